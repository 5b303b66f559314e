/**
 * A @platformatic/kafka consumer (KIP-848 `groupProtocol: 'consumer'`) in a process of its own, so
 * that a test can kill it with SIGKILL. It prints `ready` once consuming and then every record's
 * value on a line of stdout; it never commits.
 *
 *   OSPREY_CHILD_CONSUMER=1 OSPREY_BOOTSTRAP=host:port OSPREY_GROUP=g OSPREY_TOPIC=t node consumer-protocol-child.js
 *
 * Without OSPREY_CHILD_CONSUMER it does nothing (the test runner's file scan loads everything under
 * test/).
 */
import { Consumer } from '@platformatic/kafka';

const environment = process.env;
if (environment['OSPREY_CHILD_CONSUMER'] === '1') {
  const consumer = new Consumer<Buffer, Buffer, Buffer, Buffer>({
    clientId: environment['OSPREY_NAME'] ?? 'child',
    groupId: environment['OSPREY_GROUP'] ?? '',
    groupProtocol: 'consumer',
    bootstrapBrokers: [environment['OSPREY_BOOTSTRAP'] ?? ''],
    maxWaitTime: 200,
    retries: 20,
    retryDelay: 250,
  });
  const stream = await consumer.consume({ topics: [environment['OSPREY_TOPIC'] ?? ''], mode: 'committed', fallbackMode: 'earliest', autocommit: false });
  stream.on('data', (message) => process.stdout.write(`${message.value.toString()}\n`));
  stream.on('error', (error) => process.stderr.write(`${String(error)}\n`));
  process.stdout.write('ready\n');
}
