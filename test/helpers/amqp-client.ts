/**
 * amqplib against a broker process started by broker-process.ts: connecting to its AMQP listener,
 * and waiting for deliveries without hanging a test forever.
 */
import amqp from 'amqplib';
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import type { BrokerProcess } from './broker-process.js';

export function amqpUrl(broker: BrokerProcess, virtualHost = '/'): string {
  if (broker.amqpPort === null) throw new Error('this broker runs without its AMQP listener');
  return `amqp://guest:guest@${broker.host}:${broker.amqpPort}/${encodeURIComponent(virtualHost)}`;
}

export function connectAmqp(broker: BrokerProcess, virtualHost = '/'): Promise<ChannelModel> {
  return amqp.connect(amqpUrl(broker, virtualHost));
}

/** A channel whose 'error' events (a channel closed by the broker) are kept instead of thrown. */
export async function openChannel(connection: ChannelModel): Promise<Channel & { closedWith: Error | null }> {
  const channel = (await connection.createChannel()) as Channel & { closedWith: Error | null };
  channel.closedWith = null;
  channel.on('error', (error: Error) => {
    channel.closedWith = error;
  });
  return channel;
}

/** Consumes from `queue` until `count` messages arrived (or throws after timeoutMs), then cancels; acks nothing. */
export async function receive(channel: Channel, queue: string, count: number, options: { readonly noAck?: boolean; readonly timeoutMs?: number } = {}): Promise<ConsumeMessage[]> {
  const received: ConsumeMessage[] = [];
  let timer: NodeJS.Timeout | undefined;
  let done: () => void = () => undefined;
  const complete = new Promise<void>((resolve, reject) => {
    done = resolve;
    timer = setTimeout(() => reject(new Error(`received ${received.length} of ${count} messages from ${queue}`)), options.timeoutMs ?? 10_000);
  });
  const reply = await channel.consume(
    queue,
    (message) => {
      if (message === null) return;
      received.push(message);
      if (received.length === count) done();
    },
    { noAck: options.noAck ?? false },
  );
  try {
    await complete;
  } finally {
    clearTimeout(timer);
  }
  await channel.cancel(reply.consumerTag);
  return received;
}
