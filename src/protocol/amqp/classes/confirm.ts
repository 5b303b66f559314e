/**
 * AMQP 0-9-1 class confirm (class id 85). Confirm (a RabbitMQ extension): putting a channel into publisher-confirm mode.
 * Method ids, argument names (in camel case) and domains as the specification and RabbitMQ define them.
 */
import { argument, method } from '../schema.js';

export const confirmSelect = method({
  name: 'confirm.select',
  classId: 85,
  methodId: 10,
  sender: 'client',
  content: false,
  arguments: [
    argument('noWait', 'bit'),
  ],
});

export const confirmSelectOk = method({
  name: 'confirm.select-ok',
  classId: 85,
  methodId: 11,
  sender: 'server',
  content: false,
  arguments: [],
});
