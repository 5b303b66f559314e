/**
 * The environment source: OSPREY_* variables, one per setting. Unknown OSPREY_* variables are only
 * warnings (with a suggestion), since environments collect stray variables; empty ones are unset.
 */
import { faultHookVariable } from '../server/kafka/fault-hook.js';
import { assignText } from './layer.js';
import type { Layer } from './layer.js';
import { configFileEnv, configOptions, looseName, optionByEnv, optionByLooseName } from './settings-table.js';

/**
 * OSPREY_ variables that belong to other parts of Osprey, not to the broker: the broker neither
 * reads them nor warns about them. OSPREY_BROKERS is the client commands' bootstrap list
 * (src/cli/command-kit.ts); users export it in the same shell that starts a broker. The test fault
 * hook (src/server/kafka/fault-hook.ts) is read where it acts.
 */
const variablesOfOtherCommands: ReadonlySet<string> = new Set([
  'OSPREY_BROKERS',
  faultHookVariable,
  // Test hooks read by src/broker/test-hooks.ts, not settings.
  'OSPREY_TEST_HOLD_RECOVERY',
  'OSPREY_TEST_HOLD_CLEANER_SWAP',
  'OSPREY_TEST_HOLD_DEFERRED_APPEND',
]);

/** The settings the environment sets; `warnings` collects the OSPREY_* variables that are not ours. */
export function environmentLayer(env: Readonly<Record<string, string | undefined>>, warnings: string[]): Layer {
  const layer: Layer = { assignments: [], problems: [] };
  for (const option of configOptions) {
    const value = env[option.env];
    if (value === undefined || value === '') continue;
    assignText(layer, option, value, option.env);
  }
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith('OSPREY_') || optionByEnv.has(name) || name === configFileEnv || variablesOfOtherCommands.has(name)) continue;
    const near = optionByLooseName.get(looseName(name));
    warnings.push(`${name} is not an Osprey setting and is ignored${near === undefined ? '' : ` (did you mean ${near.env}?)`}`);
  }
  return layer;
}
