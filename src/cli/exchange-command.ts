/**
 * `osprey exchange list|declare|delete|bind|unbind|bind-topic|unbind-topic|bindings`: AMQP exchanges
 * and the bindings from them to queues, other exchanges and Kafka topics (docs/streams.md), through
 * the broker's HTTP admin API.
 */
import { bindingPropertiesKey } from '../server/http/binding-key.js';
import { fieldTableFromJson } from '../server/http/field-table-json.js';
import type { DestinationKind } from './admin-api-client.js';
import { UsageError } from './command-kit.js';
import type { RunContext, Subcommand } from './command-kit.js';
import { argumentOption, argumentsOf, formatArguments, vhostOption, virtualHostOf } from './amqp-flags.js';
import { orDash, table } from './output.js';

export const exchangeSummary = 'list, declare, delete AMQP exchanges and bind them to queues and exchanges';

const exchangeTypes = ['direct', 'fanout', 'topic', 'headers', 'x-delayed-message'];

const list: Subcommand = {
  name: 'exchange list',
  summary: 'list the exchanges of a virtual host (the default exchange shows as "(default)")',
  options: { vhost: vhostOption },
  usesAdminApi: true,
  examples: ['osprey exchange list', 'osprey exchange list --vhost staging --json'],
  async run(run) {
    const exchanges = await run.adminApi().listExchanges(virtualHostOf(run));
    if (run.json) run.outJson(exchanges);
    else {
      run.out(
        table(
          [{ header: 'EXCHANGE' }, { header: 'TYPE' }, { header: 'FEATURES' }, { header: 'ARGUMENTS' }],
          exchanges.map((exchange) => [
            exchange.name === '' ? '(default)' : exchange.name,
            exchange.type,
            [exchange.durable ? 'durable' : 'transient', exchange.auto_delete ? 'auto-delete' : '', exchange.internal ? 'internal' : ''].filter((word) => word !== '').join(','),
            orDash(formatArguments(exchange.arguments)),
          ]),
          run.style,
        ),
      );
    }
    return 0;
  },
};

const declare: Subcommand = {
  name: 'exchange declare',
  summary: 'declare an exchange (durable unless --transient); nothing changes if an equivalent one exists',
  args: 'NAME',
  positionals: { min: 1, max: 1 },
  options: {
    vhost: vhostOption,
    type: { type: 'string', short: 't', value: 'TYPE', description: `${exchangeTypes.join(', ')} (required)` },
    transient: { type: 'boolean', description: 'not durable: the exchange is gone after a broker restart' },
    'auto-delete': { type: 'boolean', description: 'delete the exchange once its last binding goes' },
    internal: { type: 'boolean', description: 'publishers cannot publish to it; only other exchanges route to it' },
    argument: argumentOption,
  },
  usesAdminApi: true,
  examples: ['osprey exchange declare orders --type topic', 'osprey exchange declare events -t headers --argument alternate-exchange=unrouted', 'osprey exchange declare reminders -t x-delayed-message --argument x-delayed-type=topic'],
  async run(run) {
    const name = run.arg(0);
    const vhost = virtualHostOf(run);
    const type = run.string('type');
    if (type === undefined) throw new UsageError(`--type is required: one of ${exchangeTypes.join(', ')}`);
    const body = { type, durable: !run.flag('transient'), auto_delete: run.flag('auto-delete'), internal: run.flag('internal'), arguments: argumentsOf(run) };
    const created = await run.adminApi().declareExchange(vhost, name, body);
    if (run.json) run.outJson({ vhost, exchange: name, created, ...body });
    else run.out(created ? `declared ${type} exchange ${run.style.bold(name)} in vhost ${vhost}\n` : `exchange ${name} exists already in vhost ${vhost}\n`);
    return 0;
  },
};

const remove: Subcommand = {
  name: 'exchange delete',
  summary: 'delete exchanges and their bindings',
  args: 'NAME…',
  positionals: { min: 1, max: 1000 },
  options: { vhost: vhostOption, 'if-unused': { type: 'boolean', description: 'only if the exchange has no bindings to queues or exchanges' } },
  usesAdminApi: true,
  examples: ['osprey exchange delete orders', 'osprey exchange delete events --if-unused'],
  async run(run) {
    const vhost = virtualHostOf(run);
    const api = run.adminApi();
    for (const name of run.positionals) await api.deleteExchange(vhost, name, { ifUnused: run.flag('if-unused') });
    if (run.json) run.outJson({ vhost, deleted: run.positionals });
    else for (const name of run.positionals) run.out(`deleted exchange ${name}\n`);
    return 0;
  },
};

const bindingOptions = {
  vhost: vhostOption,
  queue: { type: 'string', short: 'q', value: 'QUEUE', description: 'the destination queue' },
  exchange: { type: 'string', short: 'e', value: 'EXCHANGE', description: 'the destination exchange (instead of --queue)' },
  'routing-key': { type: 'string', short: 'k', value: 'KEY', description: 'the binding key (default empty); a pattern for topic exchanges' },
  argument: argumentOption,
} as const;

interface BindingRequest {
  readonly vhost: string;
  readonly source: string;
  readonly kind: DestinationKind;
  readonly destination: string;
  readonly routingKey: string;
  readonly arguments: ReturnType<typeof argumentsOf>;
}

function bindingRequest(run: RunContext): BindingRequest {
  const queue = run.string('queue');
  const exchange = run.string('exchange');
  if ((queue === undefined) === (exchange === undefined)) throw new UsageError('give exactly one destination: --queue QUEUE or --exchange EXCHANGE');
  return {
    vhost: virtualHostOf(run),
    source: run.arg(0),
    kind: queue !== undefined ? 'queue' : 'exchange',
    destination: queue ?? exchange!,
    routingKey: run.string('routing-key') ?? '',
    arguments: argumentsOf(run),
  };
}

function describeBinding(request: BindingRequest): string {
  return `${request.source} → ${request.kind} ${request.destination}${request.routingKey === '' ? '' : ` with key ${request.routingKey}`}${Object.keys(request.arguments).length === 0 ? '' : ` (${formatArguments(request.arguments)})`}`;
}

const bind: Subcommand = {
  name: 'exchange bind',
  summary: 'bind an exchange to a queue or to another exchange',
  args: 'SOURCE',
  positionals: { min: 1, max: 1 },
  options: bindingOptions,
  usesAdminApi: true,
  examples: ['osprey exchange bind orders --queue billing --routing-key "order.*"', 'osprey exchange bind events --exchange audit', 'osprey exchange bind events -q invoices -a x-match=all -a kind=invoice'],
  async run(run) {
    const request = bindingRequest(run);
    await run.adminApi().bind(request.vhost, request.source, request.kind, request.destination, { routing_key: request.routingKey, arguments: request.arguments });
    if (run.json) run.outJson({ ...request, bound: true });
    else run.out(`bound ${describeBinding(request)}\n`);
    return 0;
  },
};

const unbind: Subcommand = {
  name: 'exchange unbind',
  summary: 'remove a binding (the same destination, routing key and arguments it was made with)',
  args: 'SOURCE',
  positionals: { min: 1, max: 1 },
  options: bindingOptions,
  usesAdminApi: true,
  examples: ['osprey exchange unbind orders --queue billing --routing-key "order.*"', 'osprey exchange unbind events --exchange audit'],
  async run(run) {
    const request = bindingRequest(run);
    // The admin API names a binding by its properties key, computed from the key and arguments.
    const key = bindingPropertiesKey(request.routingKey, fieldTableFromJson(request.arguments, '--argument'));
    await run.adminApi().unbind(request.vhost, request.source, request.kind, request.destination, key);
    if (run.json) run.outJson({ ...request, unbound: true });
    else run.out(`unbound ${describeBinding(request)}\n`);
    return 0;
  },
};

const topicBindingOptions = {
  vhost: vhostOption,
  'routing-key': { type: 'string', short: 'k', value: 'KEY', description: 'the binding key (default empty); a pattern for topic exchanges' },
  argument: argumentOption,
  delete: { type: 'boolean', description: 'remove the binding instead (as unbind-topic)' },
} as const;

function topicBindingRequest(run: RunContext): BindingRequest {
  return { vhost: virtualHostOf(run), source: run.arg(0), kind: 'topic', destination: run.arg(1), routingKey: run.string('routing-key') ?? '', arguments: argumentsOf(run) };
}

async function unbindTopic(run: RunContext): Promise<number> {
  const request = topicBindingRequest(run);
  const key = bindingPropertiesKey(request.routingKey, fieldTableFromJson(request.arguments, '--argument'));
  await run.adminApi().unbind(request.vhost, request.source, 'topic', request.destination, key);
  if (run.json) run.outJson({ ...request, unbound: true });
  else run.out(`unbound ${describeBinding(request)}\n`);
  return 0;
}

const bindTopic: Subcommand = {
  name: 'exchange bind-topic',
  summary: 'bind an exchange to a Kafka topic: what it routes there is appended to the topic (key = routing key, properties as headers)',
  args: 'EXCHANGE TOPIC',
  positionals: { min: 2, max: 2 },
  options: topicBindingOptions,
  usesAdminApi: true,
  examples: ['osprey exchange bind-topic orders order-log --routing-key "order.#"', 'osprey exchange bind-topic orders order-log -k "order.#" --delete'],
  async run(run) {
    if (run.flag('delete')) return unbindTopic(run);
    const request = topicBindingRequest(run);
    await run.adminApi().bind(request.vhost, request.source, 'topic', request.destination, { routing_key: request.routingKey, arguments: request.arguments });
    if (run.json) run.outJson({ ...request, bound: true });
    else run.out(`bound ${describeBinding(request)}\n`);
    return 0;
  },
};

const unbindTopicCommand: Subcommand = {
  name: 'exchange unbind-topic',
  summary: 'remove an exchange-to-topic binding (the same routing key and arguments it was made with)',
  args: 'EXCHANGE TOPIC',
  positionals: { min: 2, max: 2 },
  options: { vhost: vhostOption, 'routing-key': topicBindingOptions['routing-key'], argument: argumentOption },
  usesAdminApi: true,
  examples: ['osprey exchange unbind-topic orders order-log --routing-key "order.#"'],
  run: unbindTopic,
};

const bindings: Subcommand = {
  name: 'exchange bindings',
  summary: 'list the bindings of a virtual host, or those from one exchange',
  args: '[SOURCE]',
  positionals: { min: 0, max: 1 },
  options: { vhost: vhostOption },
  usesAdminApi: true,
  examples: ['osprey exchange bindings', 'osprey exchange bindings orders --json'],
  async run(run) {
    const source = run.positionals[0];
    const all = await run.adminApi().listBindings(virtualHostOf(run));
    const shown = source === undefined ? all : all.filter((binding) => binding.source === source);
    if (run.json) run.outJson(shown);
    else if (shown.length === 0) run.out('no bindings\n');
    else {
      run.out(
        table(
          [{ header: 'SOURCE' }, { header: 'DESTINATION' }, { header: 'TYPE' }, { header: 'ROUTING KEY' }, { header: 'ARGUMENTS' }],
          shown.map((binding) => [binding.source === '' ? '(default)' : binding.source, binding.destination, binding.destination_type, orDash(binding.routing_key), orDash(formatArguments(binding.arguments))]),
          run.style,
        ),
      );
    }
    return 0;
  },
};

export const exchangeCommands: readonly Subcommand[] = [list, declare, remove, bind, unbind, bindTopic, unbindTopicCommand, bindings];
