/**
 * AMQP 0-9-1 class exchange (class id 40). Exchange: declaring, deleting, and binding exchanges to exchanges (a RabbitMQ extension).
 * Method ids, argument names (in camel case) and domains as the specification and RabbitMQ define them.
 */
import { argument, method } from '../schema.js';

export const exchangeDeclare = method({
  name: 'exchange.declare',
  classId: 40,
  methodId: 10,
  sender: 'client',
  content: false,
  arguments: [
    argument('reserved1', 'short'),
    argument('exchange', 'shortstr'),
    argument('type', 'shortstr'),
    argument('passive', 'bit'),
    argument('durable', 'bit'),
    argument('autoDelete', 'bit'),
    argument('internal', 'bit'),
    argument('noWait', 'bit'),
    argument('arguments', 'table'),
  ],
});

export const exchangeDeclareOk = method({
  name: 'exchange.declare-ok',
  classId: 40,
  methodId: 11,
  sender: 'server',
  content: false,
  arguments: [],
});

export const exchangeDelete = method({
  name: 'exchange.delete',
  classId: 40,
  methodId: 20,
  sender: 'client',
  content: false,
  arguments: [
    argument('reserved1', 'short'),
    argument('exchange', 'shortstr'),
    argument('ifUnused', 'bit'),
    argument('noWait', 'bit'),
  ],
});

export const exchangeDeleteOk = method({
  name: 'exchange.delete-ok',
  classId: 40,
  methodId: 21,
  sender: 'server',
  content: false,
  arguments: [],
});

export const exchangeBind = method({
  name: 'exchange.bind',
  classId: 40,
  methodId: 30,
  sender: 'client',
  content: false,
  arguments: [
    argument('reserved1', 'short'),
    argument('destination', 'shortstr'),
    argument('source', 'shortstr'),
    argument('routingKey', 'shortstr'),
    argument('noWait', 'bit'),
    argument('arguments', 'table'),
  ],
});

export const exchangeBindOk = method({
  name: 'exchange.bind-ok',
  classId: 40,
  methodId: 31,
  sender: 'server',
  content: false,
  arguments: [],
});

export const exchangeUnbind = method({
  name: 'exchange.unbind',
  classId: 40,
  methodId: 40,
  sender: 'client',
  content: false,
  arguments: [
    argument('reserved1', 'short'),
    argument('destination', 'shortstr'),
    argument('source', 'shortstr'),
    argument('routingKey', 'shortstr'),
    argument('noWait', 'bit'),
    argument('arguments', 'table'),
  ],
});

// 51, not 41: the number RabbitMQ gave it and every client uses.
export const exchangeUnbindOk = method({
  name: 'exchange.unbind-ok',
  classId: 40,
  methodId: 51,
  sender: 'server',
  content: false,
  arguments: [],
});
