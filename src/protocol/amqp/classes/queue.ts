/**
 * AMQP 0-9-1 class queue (class id 50). Queue: declaring, binding, purging, deleting and unbinding queues.
 * Method ids, argument names (in camel case) and domains as the specification and RabbitMQ define them.
 */
import { argument, method } from '../schema.js';

export const queueDeclare = method({
  name: 'queue.declare',
  classId: 50,
  methodId: 10,
  sender: 'client',
  content: false,
  arguments: [
    argument('reserved1', 'short'),
    argument('queue', 'shortstr'),
    argument('passive', 'bit'),
    argument('durable', 'bit'),
    argument('exclusive', 'bit'),
    argument('autoDelete', 'bit'),
    argument('noWait', 'bit'),
    argument('arguments', 'table'),
  ],
});

export const queueDeclareOk = method({
  name: 'queue.declare-ok',
  classId: 50,
  methodId: 11,
  sender: 'server',
  content: false,
  arguments: [
    argument('queue', 'shortstr'),
    argument('messageCount', 'long'),
    argument('consumerCount', 'long'),
  ],
});

export const queueBind = method({
  name: 'queue.bind',
  classId: 50,
  methodId: 20,
  sender: 'client',
  content: false,
  arguments: [
    argument('reserved1', 'short'),
    argument('queue', 'shortstr'),
    argument('exchange', 'shortstr'),
    argument('routingKey', 'shortstr'),
    argument('noWait', 'bit'),
    argument('arguments', 'table'),
  ],
});

export const queueBindOk = method({
  name: 'queue.bind-ok',
  classId: 50,
  methodId: 21,
  sender: 'server',
  content: false,
  arguments: [],
});

export const queuePurge = method({
  name: 'queue.purge',
  classId: 50,
  methodId: 30,
  sender: 'client',
  content: false,
  arguments: [
    argument('reserved1', 'short'),
    argument('queue', 'shortstr'),
    argument('noWait', 'bit'),
  ],
});

export const queuePurgeOk = method({
  name: 'queue.purge-ok',
  classId: 50,
  methodId: 31,
  sender: 'server',
  content: false,
  arguments: [
    argument('messageCount', 'long'),
  ],
});

export const queueDelete = method({
  name: 'queue.delete',
  classId: 50,
  methodId: 40,
  sender: 'client',
  content: false,
  arguments: [
    argument('reserved1', 'short'),
    argument('queue', 'shortstr'),
    argument('ifUnused', 'bit'),
    argument('ifEmpty', 'bit'),
    argument('noWait', 'bit'),
  ],
});

export const queueDeleteOk = method({
  name: 'queue.delete-ok',
  classId: 50,
  methodId: 41,
  sender: 'server',
  content: false,
  arguments: [
    argument('messageCount', 'long'),
  ],
});

export const queueUnbind = method({
  name: 'queue.unbind',
  classId: 50,
  methodId: 50,
  sender: 'client',
  content: false,
  arguments: [
    argument('reserved1', 'short'),
    argument('queue', 'shortstr'),
    argument('exchange', 'shortstr'),
    argument('routingKey', 'shortstr'),
    argument('arguments', 'table'),
  ],
});

export const queueUnbindOk = method({
  name: 'queue.unbind-ok',
  classId: 50,
  methodId: 51,
  sender: 'server',
  content: false,
  arguments: [],
});
