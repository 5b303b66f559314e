/**
 * AMQP 0-9-1 class tx (class id 90). Tx: standard transactions on a channel.
 * Method ids, argument names (in camel case) and domains as the specification and RabbitMQ define them.
 */
import { method } from '../schema.js';

export const txSelect = method({
  name: 'tx.select',
  classId: 90,
  methodId: 10,
  sender: 'client',
  content: false,
  arguments: [],
});

export const txSelectOk = method({
  name: 'tx.select-ok',
  classId: 90,
  methodId: 11,
  sender: 'server',
  content: false,
  arguments: [],
});

export const txCommit = method({
  name: 'tx.commit',
  classId: 90,
  methodId: 20,
  sender: 'client',
  content: false,
  arguments: [],
});

export const txCommitOk = method({
  name: 'tx.commit-ok',
  classId: 90,
  methodId: 21,
  sender: 'server',
  content: false,
  arguments: [],
});

export const txRollback = method({
  name: 'tx.rollback',
  classId: 90,
  methodId: 30,
  sender: 'client',
  content: false,
  arguments: [],
});

export const txRollbackOk = method({
  name: 'tx.rollback-ok',
  classId: 90,
  methodId: 31,
  sender: 'server',
  content: false,
  arguments: [],
});
