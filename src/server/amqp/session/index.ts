/**
 * The queue side of the AMQP listener (channel-handler.ts's AmqpSessions): one ChannelSession per
 * open channel over the broker's QueueBroker, the state a connection's channels share, exclusive
 * queues removed when their connection goes, and the broker's blocked state (disk alarm) for
 * connection.blocked.
 */
import type { QueueBroker } from '../../../queues/queue-broker.js';
import type { AmqpSessions, ChannelHandler, ConnectionInfo } from '../channel-handler.js';
import { hasClientCapability } from '../handshake.js';
import { ChannelSession, type ConnectionState } from './channel-session.js';
import { DirectReplies } from './direct-reply-to.js';

export interface SessionSettings {
  readonly maxUnackedMessagesPerConnection: number;
}

/**
 * Where blocked/unblocked come from: the disk alarm (broker/disk-alarm.ts). While blocked, a
 * channel holds each publish (and with it the channel's later frames, and once the connection's
 * buffer is full its socket) until unblocked: RabbitMQ's flow control by not reading publishers.
 */
export interface BlockingSource {
  readonly raised: boolean;
  onChange(listener: (raised: boolean) => void): void;
}

/** connection.blocked's reason, in RabbitMQ's words. */
const blockedReason = 'low on disk';

export function createAmqpSessions(broker: QueueBroker, settings: SessionSettings, blocking: BlockingSource | null = null): AmqpSessions {
  const connections = new Map<number, ConnectionState>();
  const gate = new PublishGate(blocking);
  const replies = new DirectReplies();
  const stateOf = (info: ConnectionInfo): ConnectionState => {
    let state = connections.get(info.id);
    if (state === undefined) {
      state = { info, unackedCount: 0, maxUnackedMessages: settings.maxUnackedMessagesPerConnection, consumerCancelNotify: hasClientCapability(info.clientProperties, 'consumer_cancel_notify'), channels: new Set() };
      connections.set(info.id, state);
    }
    return state;
  };
  return {
    hasVirtualHost: (name) => broker.hasVirtualHost(name),
    openChannel(connection, output): ChannelHandler {
      const state = stateOf(connection);
      const channel = new ChannelSession(broker, state, output, gate, replies);
      state.channels.add(channel);
      return channel;
    },
    connectionClosed(connection) {
      const state = connections.get(connection.id);
      if (state !== undefined) for (const channel of [...state.channels]) channel.close();
      connections.delete(connection.id);
      broker.connectionClosed(connection.id);
    },
    onBlockedChange(listener) {
      blocking?.onChange((raised) => listener(raised, blockedReason));
    },
    get blocked() {
      return blocking?.raised ?? false;
    },
  };
}


/** Holds publishes while the blocking source is raised. */
export class PublishGate {
  private opened: Promise<void> | null = null;
  private open: () => void = () => undefined;

  constructor(private readonly blocking: BlockingSource | null) {
    blocking?.onChange((raised) => {
      if (!raised) {
        this.open();
        this.opened = null;
      }
    });
  }

  get closed(): boolean {
    return this.blocking?.raised ?? false;
  }

  /** Resolves once publishing may go on. */
  whenOpen(): Promise<void> {
    this.opened ??= new Promise((resolve) => {
      this.open = resolve;
    });
    return this.opened;
  }
}
