/**
 * AMQP 0-9-1 class connection (class id 10). Connection: negotiating, tuning, opening and closing the connection (channel 0).
 * Method ids, argument names (in camel case) and domains as the specification and RabbitMQ define them.
 */
import { argument, method } from '../schema.js';

export const connectionStart = method({
  name: 'connection.start',
  classId: 10,
  methodId: 10,
  sender: 'server',
  content: false,
  arguments: [
    argument('versionMajor', 'octet'),
    argument('versionMinor', 'octet'),
    argument('serverProperties', 'table'),
    argument('mechanisms', 'longstr'),
    argument('locales', 'longstr'),
  ],
});

export const connectionStartOk = method({
  name: 'connection.start-ok',
  classId: 10,
  methodId: 11,
  sender: 'client',
  content: false,
  arguments: [
    argument('clientProperties', 'table'),
    argument('mechanism', 'shortstr'),
    argument('response', 'longstr'),
    argument('locale', 'shortstr'),
  ],
});

export const connectionSecure = method({
  name: 'connection.secure',
  classId: 10,
  methodId: 20,
  sender: 'server',
  content: false,
  arguments: [
    argument('challenge', 'longstr'),
  ],
});

export const connectionSecureOk = method({
  name: 'connection.secure-ok',
  classId: 10,
  methodId: 21,
  sender: 'client',
  content: false,
  arguments: [
    argument('response', 'longstr'),
  ],
});

export const connectionTune = method({
  name: 'connection.tune',
  classId: 10,
  methodId: 30,
  sender: 'server',
  content: false,
  arguments: [
    argument('channelMax', 'short'),
    argument('frameMax', 'long'),
    argument('heartbeat', 'short'),
  ],
});

export const connectionTuneOk = method({
  name: 'connection.tune-ok',
  classId: 10,
  methodId: 31,
  sender: 'client',
  content: false,
  arguments: [
    argument('channelMax', 'short'),
    argument('frameMax', 'long'),
    argument('heartbeat', 'short'),
  ],
});

export const connectionOpen = method({
  name: 'connection.open',
  classId: 10,
  methodId: 40,
  sender: 'client',
  content: false,
  arguments: [
    argument('virtualHost', 'shortstr'),
    argument('reserved1', 'shortstr'),
    argument('reserved2', 'bit'),
  ],
});

export const connectionOpenOk = method({
  name: 'connection.open-ok',
  classId: 10,
  methodId: 41,
  sender: 'server',
  content: false,
  arguments: [
    argument('reserved1', 'shortstr'),
  ],
});

export const connectionClose = method({
  name: 'connection.close',
  classId: 10,
  methodId: 50,
  sender: 'both',
  content: false,
  arguments: [
    argument('replyCode', 'short'),
    argument('replyText', 'shortstr'),
    argument('classId', 'short'),
    argument('methodId', 'short'),
  ],
});

export const connectionCloseOk = method({
  name: 'connection.close-ok',
  classId: 10,
  methodId: 51,
  sender: 'both',
  content: false,
  arguments: [],
});

export const connectionBlocked = method({
  name: 'connection.blocked',
  classId: 10,
  methodId: 60,
  sender: 'server',
  content: false,
  arguments: [
    argument('reason', 'shortstr'),
  ],
});

export const connectionUnblocked = method({
  name: 'connection.unblocked',
  classId: 10,
  methodId: 61,
  sender: 'server',
  content: false,
  arguments: [],
});

export const connectionUpdateSecret = method({
  name: 'connection.update-secret',
  classId: 10,
  methodId: 70,
  sender: 'client',
  content: false,
  arguments: [
    argument('newSecret', 'longstr'),
    argument('reason', 'shortstr'),
  ],
});

export const connectionUpdateSecretOk = method({
  name: 'connection.update-secret-ok',
  classId: 10,
  methodId: 71,
  sender: 'server',
  content: false,
  arguments: [],
});
