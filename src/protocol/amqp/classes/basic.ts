/**
 * AMQP 0-9-1 class basic (class id 60). Basic: publishing, consuming, getting and acknowledging messages; also declares the content-header properties of its messages.
 * Method ids, argument names (in camel case) and domains as the specification and RabbitMQ define them.
 */
import { argument, contentProperties, method } from '../schema.js';

export const basicQos = method({
  name: 'basic.qos',
  classId: 60,
  methodId: 10,
  sender: 'client',
  content: false,
  arguments: [
    argument('prefetchSize', 'long'),
    argument('prefetchCount', 'short'),
    argument('global', 'bit'),
  ],
});

export const basicQosOk = method({
  name: 'basic.qos-ok',
  classId: 60,
  methodId: 11,
  sender: 'server',
  content: false,
  arguments: [],
});

export const basicConsume = method({
  name: 'basic.consume',
  classId: 60,
  methodId: 20,
  sender: 'client',
  content: false,
  arguments: [
    argument('reserved1', 'short'),
    argument('queue', 'shortstr'),
    argument('consumerTag', 'shortstr'),
    argument('noLocal', 'bit'),
    argument('noAck', 'bit'),
    argument('exclusive', 'bit'),
    argument('noWait', 'bit'),
    argument('arguments', 'table'),
  ],
});

export const basicConsumeOk = method({
  name: 'basic.consume-ok',
  classId: 60,
  methodId: 21,
  sender: 'server',
  content: false,
  arguments: [
    argument('consumerTag', 'shortstr'),
  ],
});

// The server sends cancel too when a consumer's queue goes away (RabbitMQ's consumer cancel notification).
export const basicCancel = method({
  name: 'basic.cancel',
  classId: 60,
  methodId: 30,
  sender: 'both',
  content: false,
  arguments: [
    argument('consumerTag', 'shortstr'),
    argument('noWait', 'bit'),
  ],
});

export const basicCancelOk = method({
  name: 'basic.cancel-ok',
  classId: 60,
  methodId: 31,
  sender: 'both',
  content: false,
  arguments: [
    argument('consumerTag', 'shortstr'),
  ],
});

// content: a content header (with basicProperties) and body frames follow publish, return, deliver and get-ok.
export const basicPublish = method({
  name: 'basic.publish',
  classId: 60,
  methodId: 40,
  sender: 'client',
  content: true,
  arguments: [
    argument('reserved1', 'short'),
    argument('exchange', 'shortstr'),
    argument('routingKey', 'shortstr'),
    argument('mandatory', 'bit'),
    argument('immediate', 'bit'),
  ],
});

export const basicReturn = method({
  name: 'basic.return',
  classId: 60,
  methodId: 50,
  sender: 'server',
  content: true,
  arguments: [
    argument('replyCode', 'short'),
    argument('replyText', 'shortstr'),
    argument('exchange', 'shortstr'),
    argument('routingKey', 'shortstr'),
  ],
});

export const basicDeliver = method({
  name: 'basic.deliver',
  classId: 60,
  methodId: 60,
  sender: 'server',
  content: true,
  arguments: [
    argument('consumerTag', 'shortstr'),
    argument('deliveryTag', 'longlong'),
    argument('redelivered', 'bit'),
    argument('exchange', 'shortstr'),
    argument('routingKey', 'shortstr'),
  ],
});

export const basicGet = method({
  name: 'basic.get',
  classId: 60,
  methodId: 70,
  sender: 'client',
  content: false,
  arguments: [
    argument('reserved1', 'short'),
    argument('queue', 'shortstr'),
    argument('noAck', 'bit'),
  ],
});

export const basicGetOk = method({
  name: 'basic.get-ok',
  classId: 60,
  methodId: 71,
  sender: 'server',
  content: true,
  arguments: [
    argument('deliveryTag', 'longlong'),
    argument('redelivered', 'bit'),
    argument('exchange', 'shortstr'),
    argument('routingKey', 'shortstr'),
    argument('messageCount', 'long'),
  ],
});

export const basicGetEmpty = method({
  name: 'basic.get-empty',
  classId: 60,
  methodId: 72,
  sender: 'server',
  content: false,
  arguments: [
    argument('reserved1', 'shortstr'),
  ],
});

// The server acks and nacks too, on a channel in publisher-confirm mode.
export const basicAck = method({
  name: 'basic.ack',
  classId: 60,
  methodId: 80,
  sender: 'both',
  content: false,
  arguments: [
    argument('deliveryTag', 'longlong'),
    argument('multiple', 'bit'),
  ],
});

export const basicReject = method({
  name: 'basic.reject',
  classId: 60,
  methodId: 90,
  sender: 'client',
  content: false,
  arguments: [
    argument('deliveryTag', 'longlong'),
    argument('requeue', 'bit'),
  ],
});

export const basicRecoverAsync = method({
  name: 'basic.recover-async',
  classId: 60,
  methodId: 100,
  sender: 'client',
  content: false,
  arguments: [
    argument('requeue', 'bit'),
  ],
});

export const basicRecover = method({
  name: 'basic.recover',
  classId: 60,
  methodId: 110,
  sender: 'client',
  content: false,
  arguments: [
    argument('requeue', 'bit'),
  ],
});

export const basicRecoverOk = method({
  name: 'basic.recover-ok',
  classId: 60,
  methodId: 111,
  sender: 'server',
  content: false,
  arguments: [],
});

export const basicNack = method({
  name: 'basic.nack',
  classId: 60,
  methodId: 120,
  sender: 'both',
  content: false,
  arguments: [
    argument('deliveryTag', 'longlong'),
    argument('multiple', 'bit'),
    argument('requeue', 'bit'),
  ],
});

/**
 * The properties of a basic message, carried in its content header, in flag order (content-type
 * is bit 15 of the property flags, cluster-id bit 2). delivery-mode is 1 (transient) or 2
 * (persistent); expiration is a per-message TTL in milliseconds written as text.
 */
export const basicProperties = contentProperties({
  className: 'basic',
  classId: 60,
  properties: [
    argument('contentType', 'shortstr'),
    argument('contentEncoding', 'shortstr'),
    argument('headers', 'table'),
    argument('deliveryMode', 'octet'),
    argument('priority', 'octet'),
    argument('correlationId', 'shortstr'),
    argument('replyTo', 'shortstr'),
    argument('expiration', 'shortstr'),
    argument('messageId', 'shortstr'),
    argument('timestamp', 'timestamp'),
    argument('type', 'shortstr'),
    argument('userId', 'shortstr'),
    argument('appId', 'shortstr'),
    argument('clusterId', 'shortstr'),
  ],
});
