/**
 * `osprey queue list|declare|delete|purge|get|feed-from-topic|feeds`: AMQP queues, and Kafka topics
 * feeding them (docs/streams.md), through the broker's HTTP admin API.
 */
import type { Subcommand } from './command-kit.js';
import { argumentOption, argumentsOf, formatArguments, vhostOption, virtualHostOf } from './amqp-flags.js';
import { formatBytes, formatCount, keyValues, orDash, table } from './output.js';

export const queueSummary = 'list, declare, delete, purge AMQP queues and read their messages';

/** As in the admin API (maxMessagesPerGet). */
const maxGetCount = 1000;

const list: Subcommand = {
  name: 'queue list',
  summary: 'list the queues of a virtual host with their message and consumer counts',
  options: { vhost: vhostOption },
  usesAdminApi: true,
  examples: ['osprey queue list', 'osprey queue list --vhost staging --json | jq -r ".[].name"'],
  async run(run) {
    const queues = await run.adminApi().listQueues(virtualHostOf(run));
    if (run.json) run.outJson(queues);
    else if (queues.length === 0) run.out(`no queues in vhost ${virtualHostOf(run)}\n`);
    else {
      // In a cluster: which broker serves each queue (its counts are that broker's).
      const clustered = queues.some((queue) => typeof queue.served_by === 'number');
      run.out(
        table(
          [
            { header: 'QUEUE' },
            { header: 'MESSAGES', align: 'right' },
            { header: 'READY', align: 'right' },
            { header: 'UNACKED', align: 'right' },
            { header: 'CONSUMERS', align: 'right' },
            ...(clustered ? [{ header: 'SERVED BY', align: 'right' as const }] : []),
            { header: 'FEATURES' },
            { header: 'ARGUMENTS' },
          ],
          queues.map((queue) => [
            queue.name,
            formatCount(queue.messages),
            formatCount(queue.messages_ready),
            formatCount(queue.messages_unacknowledged),
            String(queue.consumers),
            ...(clustered ? [typeof queue.served_by === 'number' ? `broker ${queue.served_by}` : '-'] : []),
            orDash([queue.durable ? 'durable' : 'transient', queue.auto_delete ? 'auto-delete' : '', queue.exclusive ? 'exclusive' : ''].filter((word) => word !== '').join(',')),
            orDash(formatArguments(queue.arguments)),
          ]),
          run.style,
        ),
      );
    }
    return 0;
  },
};

const declare: Subcommand = {
  name: 'queue declare',
  summary: 'declare a queue (durable unless --transient); nothing changes if an equivalent one exists',
  args: 'NAME',
  positionals: { min: 1, max: 1 },
  options: {
    vhost: vhostOption,
    transient: { type: 'boolean', description: 'not durable: the queue is gone after a broker restart' },
    'auto-delete': { type: 'boolean', description: 'delete the queue once its last consumer goes' },
    argument: argumentOption,
  },
  usesAdminApi: true,
  examples: ['osprey queue declare orders', 'osprey queue declare scratch --transient --auto-delete', 'osprey queue declare jobs --argument x-message-ttl=60000 --argument x-dead-letter-exchange=dlx'],
  async run(run) {
    const name = run.arg(0);
    const vhost = virtualHostOf(run);
    const body = { durable: !run.flag('transient'), auto_delete: run.flag('auto-delete'), arguments: argumentsOf(run) };
    const created = await run.adminApi().declareQueue(vhost, name, body);
    if (run.json) run.outJson({ vhost, queue: name, created, ...body });
    else run.out(created ? `declared queue ${run.style.bold(name)} in vhost ${vhost}\n` : `queue ${name} exists already in vhost ${vhost}\n`);
    return 0;
  },
};

const remove: Subcommand = {
  name: 'queue delete',
  summary: 'delete queues and their messages',
  args: 'NAME…',
  positionals: { min: 1, max: 1000 },
  options: {
    vhost: vhostOption,
    'if-unused': { type: 'boolean', description: 'only if the queue has no consumers' },
    'if-empty': { type: 'boolean', description: 'only if the queue has no ready messages' },
  },
  usesAdminApi: true,
  examples: ['osprey queue delete orders', 'osprey queue delete jobs --if-empty --if-unused'],
  async run(run) {
    const vhost = virtualHostOf(run);
    const api = run.adminApi();
    for (const name of run.positionals) await api.deleteQueue(vhost, name, { ifUnused: run.flag('if-unused'), ifEmpty: run.flag('if-empty') });
    if (run.json) run.outJson({ vhost, deleted: run.positionals });
    else for (const name of run.positionals) run.out(`deleted queue ${name}\n`);
    return 0;
  },
};

const purge: Subcommand = {
  name: 'queue purge',
  summary: 'remove the ready messages of queues (unacknowledged deliveries stay)',
  args: 'NAME…',
  positionals: { min: 1, max: 1000 },
  options: { vhost: vhostOption },
  usesAdminApi: true,
  examples: ['osprey queue purge orders'],
  async run(run) {
    const vhost = virtualHostOf(run);
    const api = run.adminApi();
    for (const name of run.positionals) await api.purgeQueue(vhost, name);
    if (run.json) run.outJson({ vhost, purged: run.positionals });
    else for (const name of run.positionals) run.out(`purged queue ${name}\n`);
    return 0;
  },
};

const get: Subcommand = {
  name: 'queue get',
  summary: 'show messages at the head of a queue (given back unless --ack)',
  args: 'NAME',
  positionals: { min: 1, max: 1 },
  description: 'The messages are taken from the queue and, unless --ack, given back at once, flagged redelivered (as RabbitMQ does); consumers may see them in between.',
  options: {
    vhost: vhostOption,
    count: { type: 'string', short: 'n', value: 'N', description: `how many messages at most (default 1, at most ${maxGetCount})` },
    ack: { type: 'boolean', description: 'acknowledge the messages: they leave the queue' },
    base64: { type: 'boolean', description: 'show every payload in base64 (by default UTF-8 text is shown as text)' },
  },
  usesAdminApi: true,
  examples: ['osprey queue get orders', 'osprey queue get orders --count 10 --json', 'osprey queue get dead-letters --ack --count 100'],
  async run(run) {
    const name = run.arg(0);
    const vhost = virtualHostOf(run);
    const count = run.integer('count', { min: 1, max: maxGetCount }) ?? 1;
    const messages = await run.adminApi().getMessages(vhost, name, { count, ackmode: run.flag('ack') ? 'ack_requeue_false' : 'ack_requeue_true', encoding: run.flag('base64') ? 'base64' : 'auto' });
    if (run.json) {
      run.outJson(messages);
      return 0;
    }
    if (messages.length === 0) {
      run.out(`queue ${name} has no ready messages\n`);
      return 0;
    }
    const blocks = messages.map((message, index) =>
      keyValues(
        [
          ['message', `${index + 1} of ${messages.length}${run.flag('ack') ? ' (acknowledged)' : ''}; ${formatCount(message.message_count)} more ready`],
          ['exchange', message.exchange === '' ? '(default)' : message.exchange],
          ['routing key', message.routing_key],
          ['redelivered', message.redelivered ? 'yes' : 'no'],
          ['properties', orDash(formatArguments(message.properties))],
          ['payload', `${formatBytes(message.payload_bytes)}${message.payload_encoding === 'base64' ? ', base64' : ''}`],
        ],
        run.style,
      ) + message.payload + '\n',
    );
    run.out(blocks.join('\n'));
    return 0;
  },
};

const feedFromTopic: Subcommand = {
  name: 'queue feed-from-topic',
  summary: 'publish into a queue every record a Kafka topic gets from now on (kept across restarts; --delete stops it)',
  args: 'QUEUE TOPIC',
  positionals: { min: 2, max: 2 },
  options: { vhost: vhostOption, delete: { type: 'boolean', description: 'stop feeding the queue from the topic' } },
  usesAdminApi: true,
  examples: ['osprey queue feed-from-topic billing orders', 'osprey queue feed-from-topic billing orders --delete'],
  async run(run) {
    const vhost = virtualHostOf(run);
    const [queue, topic] = [run.arg(0), run.arg(1)];
    if (run.flag('delete')) {
      await run.adminApi().removeFeed(vhost, queue, topic);
      if (run.json) run.outJson({ vhost, queue, topic, removed: true });
      else run.out(`queue ${queue} is no longer fed from topic ${topic}\n`);
      return 0;
    }
    const created = await run.adminApi().addFeed(vhost, queue, topic);
    if (run.json) run.outJson({ vhost, queue, topic, created });
    else run.out(created ? `queue ${run.style.bold(queue)} is fed from topic ${topic} (records from now on)\n` : `queue ${queue} is fed from topic ${topic} already\n`);
    return 0;
  },
};

const feeds: Subcommand = {
  name: 'queue feeds',
  summary: 'list the Kafka topics feeding queues, with the next offset read per partition',
  options: { vhost: vhostOption },
  usesAdminApi: true,
  examples: ['osprey queue feeds', 'osprey queue feeds --json'],
  async run(run) {
    const all = await run.adminApi().listFeeds(virtualHostOf(run));
    if (run.json) run.outJson(all);
    else if (all.length === 0) run.out('no topic feeds\n');
    else run.out(table([{ header: 'QUEUE' }, { header: 'TOPIC' }, { header: 'POSITIONS' }], all.map((feed) => [feed.queue, feed.topic, feed.positions.join(',')]), run.style));
    return 0;
  },
};

export const queueCommands: readonly Subcommand[] = [list, declare, remove, purge, get, feedFromTopic, feeds];

