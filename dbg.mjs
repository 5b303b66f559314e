import { Producer, ProduceAcks, stringSerializers } from '@platformatic/kafka';
const bootstrap = process.argv[2];
for (const id of ['a', 'b']) {
  const p = new Producer({ clientId: id, bootstrapBrokers: [bootstrap], idempotent: true, acks: ProduceAcks.ALL, serializers: stringSerializers });
  await p.send({ messages: [{ topic: 'dbg', partition: 0, value: 'x' }] });
  console.log(id, p.producerId, p.producerEpoch);
  await p.close();
}
