/**
 * `osprey policy set|list|delete`: the policies of a virtual host (RabbitMQ's: a pattern matched
 * against queue and exchange names, and a definition such as {"max-length":1000} that the matching
 * ones apply), through the broker's HTTP admin API. What the keys mean and how they combine with a
 * queue's own arguments: docs/amqp.md, "Policies".
 */
import type { JsonObject } from '../server/http/field-table-json.js';
import { UsageError } from './command-kit.js';
import type { Subcommand } from './command-kit.js';
import { vhostOption, virtualHostOf } from './amqp-flags.js';
import { table } from './output.js';

export const policySummary = 'set, list and delete AMQP policies (max-length, message-ttl, dead-lettering, … for queues matching a pattern)';

const applyToValues = ['queues', 'exchanges', 'all', 'classic_queues', 'quorum_queues', 'streams'];

const set: Subcommand = {
  name: 'policy set',
  summary: 'add a policy, or replace the one of that name; it applies at once to the queues and exchanges it matches',
  args: 'NAME',
  positionals: { min: 1, max: 1 },
  description: [
    'The policy applies to every queue (or exchange) of the vhost whose name the pattern matches, now and',
    'when declared later; of several matching policies the one of highest priority applies. Definition keys:',
    'max-length, max-length-bytes, overflow, message-ttl, expires, dead-letter-exchange,',
    'dead-letter-routing-key, delivery-limit (queues), alternate-exchange (exchanges). Where a queue sets the',
    'same thing with an x- argument, limits take the lower value and the other keys the argument\'s.',
  ].join('\n'),
  options: {
    vhost: vhostOption,
    pattern: { type: 'string', short: 'p', value: 'REGEX', description: 'regular expression searched for in queue and exchange names (required; "^orders\\." or ".*")' },
    definition: { type: 'string', short: 'd', value: 'JSON', description: 'a JSON object of policy keys, such as \'{"max-length":1000,"overflow":"reject-publish"}\' (required)' },
    'apply-to': { type: 'string', value: 'KIND', description: `${applyToValues.join(', ')} (default all)` },
    priority: { type: 'string', value: 'N', description: 'an integer; the highest-priority matching policy applies (default 0)' },
  },
  usesAdminApi: true,
  examples: [
    'osprey policy set limits --pattern "^orders\\." --apply-to queues --definition \'{"max-length":1000}\'',
    'osprey policy set retry --pattern "^work\\." --definition \'{"dead-letter-exchange":"retry","delivery-limit":5}\' --priority 10',
    'osprey policy set unrouted --pattern ".*" --apply-to exchanges --definition \'{"alternate-exchange":"unrouted"}\' --priority=-1',
  ],
  async run(run) {
    const name = run.arg(0);
    const vhost = virtualHostOf(run);
    const pattern = run.string('pattern');
    if (pattern === undefined) throw new UsageError('--pattern is required: a regular expression matched against queue and exchange names');
    const definition = definitionOf(run.string('definition'));
    const applyTo = run.string('apply-to') ?? 'all';
    if (!applyToValues.includes(applyTo)) throw new UsageError(`--apply-to: one of ${applyToValues.join(', ')}, not '${applyTo}'`);
    const priority = run.integer('priority') ?? 0;
    const body = { pattern, definition, priority, 'apply-to': applyTo };
    const created = await run.adminApi().setPolicy(vhost, name, body);
    if (run.json) run.outJson({ vhost, name, created, ...body });
    else run.out(`${created ? 'set' : 'replaced'} policy ${run.style.bold(name)} in vhost ${vhost}: ${applyTo} matching ${pattern} get ${JSON.stringify(definition)} (priority ${priority})\n`);
    return 0;
  },
};

function definitionOf(text: string | undefined): JsonObject {
  if (text === undefined) throw new UsageError('--definition is required: a JSON object such as \'{"max-length":1000}\'');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--definition is not JSON (${error instanceof Error ? error.message : String(error)}): ${text}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UsageError(`--definition must be a JSON object such as '{"max-length":1000}', not ${text}`);
  return parsed as JsonObject;
}

const list: Subcommand = {
  name: 'policy list',
  summary: 'list the policies of a virtual host',
  options: { vhost: vhostOption },
  usesAdminApi: true,
  examples: ['osprey policy list', 'osprey policy list --vhost staging --json'],
  async run(run) {
    const vhost = virtualHostOf(run);
    const policies = await run.adminApi().listPolicies(vhost);
    if (run.json) run.outJson(policies);
    else if (policies.length === 0) run.out(`no policies in vhost ${vhost}\n`);
    else {
      run.out(
        table(
          [{ header: 'POLICY' }, { header: 'PATTERN' }, { header: 'APPLY TO' }, { header: 'PRIORITY', align: 'right' }, { header: 'DEFINITION' }],
          policies.map((policy) => [policy.name, policy.pattern, policy['apply-to'], String(policy.priority), JSON.stringify(policy.definition)]),
          run.style,
        ),
      );
    }
    return 0;
  },
};

const remove: Subcommand = {
  name: 'policy delete',
  summary: 'delete policies; what they applied to gets the next matching policy, or none',
  args: 'NAME…',
  positionals: { min: 1, max: 1000 },
  options: { vhost: vhostOption },
  usesAdminApi: true,
  examples: ['osprey policy delete limits', 'osprey policy delete retry --vhost staging'],
  async run(run) {
    const vhost = virtualHostOf(run);
    const api = run.adminApi();
    for (const name of run.positionals) await api.deletePolicy(vhost, name);
    if (run.json) run.outJson({ vhost, deleted: run.positionals });
    else for (const name of run.positionals) run.out(`deleted policy ${name}\n`);
    return 0;
  },
};

export const policyCommands: readonly Subcommand[] = [set, list, remove];
