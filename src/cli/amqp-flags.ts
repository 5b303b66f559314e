/**
 * Flags shared by the AMQP admin commands (queue, exchange, vhost): --vhost, and --argument
 * KEY=VALUE for the arguments of queues, exchanges and bindings. An argument's value is read as JSON
 * when it is a number, true, false, null, an object, an array or a quoted string, and as a plain
 * string otherwise: `x-message-ttl=60000` is the integer 60000, `x-queue-type=quorum` the string.
 */
import type { JsonObject, JsonValue } from '../server/http/field-table-json.js';
import { UsageError } from './command-kit.js';
import type { OptionSpec, RunContext } from './command-kit.js';

export const defaultVirtualHost = '/';

export const vhostOption: OptionSpec = { type: 'string', value: 'NAME', description: `the virtual host (default "${defaultVirtualHost}")` };
export const argumentOption: OptionSpec = { type: 'string', short: 'a', value: 'KEY=VALUE', multiple: true, description: 'an argument; the value is JSON when it parses as a number, boolean, null, object or array, else a string' };

export function virtualHostOf(run: RunContext): string {
  return run.string('vhost') ?? defaultVirtualHost;
}

export function argumentsOf(run: RunContext): JsonObject {
  const result: JsonObject = {};
  for (const pair of run.strings('argument')) {
    const equals = pair.indexOf('=');
    if (equals <= 0) throw new UsageError(`--argument: expected KEY=VALUE, got '${pair}'`);
    Object.defineProperty(result, pair.slice(0, equals), { value: argumentValue(pair.slice(equals + 1)), enumerable: true, writable: true, configurable: true });
  }
  return result;
}

export function argumentValue(text: string): JsonValue {
  if (/^\s*(-?\d|true$|false$|null$|[[{"])/.test(text)) {
    try {
      return JSON.parse(text) as JsonValue;
    } catch {
      // not JSON after all ("2024-05-01", "{oops"): keep it as text
    }
  }
  return text;
}

/** `{"x-message-ttl":60000}` → "x-message-ttl=60000" for tables. */
export function formatArguments(values: JsonObject): string {
  const entries = Object.entries(values);
  return entries.length === 0 ? '' : entries.map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`).join(' ');
}
