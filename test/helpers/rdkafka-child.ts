/**
 * A librdkafka consumer (node-rdkafka, `group.protocol=consumer`) in a process of its own, so that
 * a test can stop it with SIGSTOP and let it go on with SIGCONT. It prints one JSON line per event
 * on stdout:
 *
 *   {"event":"ready"}                                        connected and subscribed
 *   {"event":"assign","partitions":[0,2],"atMs":…}           incremental assignment
 *   {"event":"revoke","partitions":[1],"atMs":…}             incremental revocation
 *   {"event":"record","partition":0,"offset":12,"atMs":…}
 *   {"event":"log","message":"…"}                            librdkafka's debug lines on failed heartbeats and fencing
 *
 *   OSPREY_RDKAFKA_CHILD=1 OSPREY_BOOTSTRAP=host:port OSPREY_GROUP=g OSPREY_TOPIC=t node rdkafka-child.js
 *
 * It commits automatically (every 200 ms) and is ended with SIGKILL. Without OSPREY_RDKAFKA_CHILD it does nothing (the test
 * runner's file scan loads everything under test/).
 */
import rdkafka from 'node-rdkafka';
import type { Assignment, LibrdKafkaError, Message } from 'node-rdkafka';

const environment = process.env;

function print(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

if (environment['OSPREY_RDKAFKA_CHILD'] === '1') {
  const { KafkaConsumer, CODES } = rdkafka;
  const consumer = new KafkaConsumer(
    {
      'bootstrap.servers': environment['OSPREY_BOOTSTRAP'] ?? '',
      'group.id': environment['OSPREY_GROUP'] ?? '',
      'group.protocol': 'consumer',
      'client.id': 'rdkafka-child',
      'enable.auto.commit': true,
      'auto.commit.interval.ms': 200,
      debug: 'cgrp,consumer',
      rebalance_cb: true,
    },
    { 'auto.offset.reset': 'earliest' },
  );
  const partitionsOf = (assignment: Assignment[]) => assignment.map((entry) => entry.partition).sort((left, right) => left - right);
  consumer.on('rebalance', (error: LibrdKafkaError, assignment: Assignment[]) => {
    const atMs = Date.now();
    if (error.code === CODES.ERRORS.ERR__ASSIGN_PARTITIONS) print({ event: 'assign', partitions: partitionsOf(assignment), atMs });
    else print({ event: 'revoke', partitions: partitionsOf(assignment), atMs });
  });
  consumer.on('event.log', (log: { message: string }) => {
    if (/ConsumerGroupHeartbeat failed|fenced/i.test(log.message)) print({ event: 'log', message: log.message });
  });
  consumer.on('data', (message: Message) => print({ event: 'record', partition: message.partition, offset: message.offset, atMs: Date.now() }));
  consumer.on('event.error', (error) => process.stderr.write(`${error.message}\n`));
  consumer.connect({}, (error) => {
    if (error) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    consumer.subscribe([environment['OSPREY_TOPIC'] ?? '']);
    consumer.consume();
    print({ event: 'ready' });
  });
}
