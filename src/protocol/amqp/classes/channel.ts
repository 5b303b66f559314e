/**
 * AMQP 0-9-1 class channel (class id 20). Channel: opening, flow control and closing of a channel.
 * Method ids, argument names (in camel case) and domains as the specification and RabbitMQ define them.
 */
import { argument, method } from '../schema.js';

export const channelOpen = method({
  name: 'channel.open',
  classId: 20,
  methodId: 10,
  sender: 'client',
  content: false,
  arguments: [
    argument('reserved1', 'shortstr'),
  ],
});

export const channelOpenOk = method({
  name: 'channel.open-ok',
  classId: 20,
  methodId: 11,
  sender: 'server',
  content: false,
  arguments: [
    argument('reserved1', 'longstr'),
  ],
});

export const channelFlow = method({
  name: 'channel.flow',
  classId: 20,
  methodId: 20,
  sender: 'both',
  content: false,
  arguments: [
    argument('active', 'bit'),
  ],
});

export const channelFlowOk = method({
  name: 'channel.flow-ok',
  classId: 20,
  methodId: 21,
  sender: 'both',
  content: false,
  arguments: [
    argument('active', 'bit'),
  ],
});

export const channelClose = method({
  name: 'channel.close',
  classId: 20,
  methodId: 40,
  sender: 'both',
  content: false,
  arguments: [
    argument('replyCode', 'short'),
    argument('replyText', 'shortstr'),
    argument('classId', 'short'),
    argument('methodId', 'short'),
  ],
});

export const channelCloseOk = method({
  name: 'channel.close-ok',
  classId: 20,
  methodId: 41,
  sender: 'both',
  content: false,
  arguments: [],
});
