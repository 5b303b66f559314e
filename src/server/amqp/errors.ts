/** The AMQP errors handlers throw; declared with the protocol so the queues layer can throw them too. */
export { AmqpChannelError, AmqpConnectionError } from '../../protocol/amqp/errors.js';
