/**
 * chat: rooms over a topic exchange, private messages through a durable queue per user.
 *
 * Everything goes through one topic exchange, `chat`:
 *   - a room is the routing key `chat.room.<room>`; each member present binds a temporary queue
 *     (server-named, exclusive, auto-delete) to it, so they get what is said while they are there,
 *     and the queue disappears when they leave;
 *   - a private message is published with the routing key `chat.user.<name>` and lands in that
 *     user's durable queue of the same name, which keeps it while the user is away.
 * A message is a JSON body {from, text} with the room or the recipient.
 *
 *   npm run example -- chat                                    # a scripted demo: alice, bob, carol
 *   npm run example -- chat -- --user alice --room lobby       # interactive, one line per message
 *
 * Interactively, a line is said to the room; `/msg NAME TEXT` sends a private message; `/quit` or
 * the end of the input leaves. Run it in two terminals to talk to yourself.
 *
 * Shown with amqplib, over AMQP 0-9-1 (OSPREY_AMQP_URL, default amqp://guest:guest@127.0.0.1:5672/).
 */
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { ChannelModel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import { connectAmqp, expect, ExampleFailure, runExample, waitUntil } from './lib/example-runtime.js';

const exchangeName = 'chat';
const deliveryTimeoutMs = 10_000;
/** After the last expected delivery, how long the demo watches for deliveries that should not come. */
const settleMs = 300;

interface ChatMessage {
  readonly from: string;
  readonly text: string;
  readonly room?: string;
  readonly to?: string;
}

type Heard = ChatMessage & { readonly kind: 'room' | 'private' };

function roomKey(room: string): string {
  return `chat.room.${room}`;
}

function inboxName(user: string): string {
  return `chat.user.${user}`;
}

function describe(message: Heard): string {
  return message.kind === 'room' ? `[#${message.room ?? '?'}] ${message.from}: ${message.text}` : `[private] ${message.from}: ${message.text}`;
}

/** A user's durable inbox, bound to the exchange; declaring it again is harmless. */
async function declareInbox(channel: ConfirmChannel, user: string): Promise<void> {
  await channel.assertQueue(inboxName(user), { durable: true });
  await channel.bindQueue(inboxName(user), exchangeName, inboxName(user));
}

/** Publishes on the confirm channel and resolves once the broker has the message. */
function publishConfirmed(channel: ConfirmChannel, routingKey: string, message: ChatMessage, persistent: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    channel.publish(exchangeName, routingKey, Buffer.from(JSON.stringify(message)), { contentType: 'application/json', persistent }, (error: unknown) => {
      if (error === null || error === undefined) resolve();
      else reject(new ExampleFailure(`the broker refused a message to ${routingKey}`));
    });
  });
}

/** One person in one room: a connection, a temporary queue for the room, their durable inbox. */
class ChatMember {
  private constructor(
    readonly name: string,
    readonly room: string,
    readonly roomQueue: string,
    private readonly connection: ChannelModel,
    private readonly channel: ConfirmChannel,
  ) {}

  static async join(name: string, room: string, onMessage: (message: Heard) => void): Promise<ChatMember> {
    const connection = await connectAmqp();
    const channel = await connection.createConfirmChannel();
    await channel.assertExchange(exchangeName, 'topic', { durable: true });
    await declareInbox(channel, name);
    // The room's queue: named by the broker, deleted when this connection ends.
    const { queue: roomQueue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
    await channel.bindQueue(roomQueue, exchangeName, roomKey(room));
    const deliver = (kind: Heard['kind']) => (delivery: ConsumeMessage | null) => {
      if (delivery === null) return;
      onMessage({ ...(JSON.parse(delivery.content.toString('utf8')) as ChatMessage), kind });
      channel.ack(delivery);
    };
    await channel.consume(roomQueue, deliver('room'));
    await channel.consume(inboxName(name), deliver('private'));
    return new ChatMember(name, room, roomQueue, connection, channel);
  }

  say(text: string): Promise<void> {
    return publishConfirmed(this.channel, roomKey(this.room), { from: this.name, room: this.room, text }, false);
  }

  /** A private message; the recipient's inbox is declared first, so it waits there even if they never came yet. */
  async tell(recipient: string, text: string): Promise<void> {
    await declareInbox(this.channel, recipient);
    await publishConfirmed(this.channel, inboxName(recipient), { from: this.name, to: recipient, text }, true);
  }

  leave(): Promise<void> {
    return this.connection.close();
  }
}

/** The scripted demo: who hears what, checked at the end. */
async function demo(): Promise<void> {
  const people = ['alice', 'bob', 'carol'] as const;
  const heard = new Map<string, string[]>(people.map((name) => [name, []]));
  const listener = (name: string) => (message: Heard) => {
    console.log(`    ${name} sees ${describe(message)}`);
    heard.get(name)?.push(describe(message));
  };
  const received = (name: string, count: number): Promise<void> =>
    waitUntil(() => (heard.get(name)?.length ?? 0) >= count, `${name} to have ${count} messages (has ${heard.get(name)?.length ?? 0})`, deliveryTimeoutMs);

  // Private messages of an earlier run must not show up in this one.
  const setup = await connectAmqp();
  const setupChannel = await setup.createChannel();
  for (const name of people) await setupChannel.deleteQueue(inboxName(name));
  await setup.close();

  const alice = await ChatMember.join('alice', 'lobby', listener('alice'));
  let bob = await ChatMember.join('bob', 'lobby', listener('bob'));
  console.log(`alice and bob joined #lobby, each with a temporary queue bound to ${roomKey('lobby')} (alice's: ${alice.roomQueue})`);

  console.log('alice says "hi everyone" in #lobby');
  await alice.say('hi everyone');
  await Promise.all([received('alice', 1), received('bob', 1)]);

  console.log('bob sends carol, who is not online, a private message');
  await bob.tell('carol', 'lunch at noon?');
  const inspect = await connectAmqp();
  const { messageCount } = await (await inspect.createChannel()).checkQueue(inboxName('carol'));
  await inspect.close();
  console.log(`  ${inboxName('carol')} keeps ${messageCount} message for her`);
  expect(messageCount === 1, `expected 1 message waiting in ${inboxName('carol')}, found ${messageCount}`);

  console.log('carol joins #lobby: the private message waiting for her arrives; what was said before she came does not');
  const carol = await ChatMember.join('carol', 'lobby', listener('carol'));
  await received('carol', 1);

  console.log('carol says "hello all" in #lobby');
  await carol.say('hello all');
  await Promise.all([received('alice', 2), received('bob', 2), received('carol', 2)]);

  console.log(`bob leaves: his temporary queue ${bob.roomQueue} goes with his connection; his inbox stays`);
  await bob.leave();
  console.log('alice says "bye bob" in #lobby, and sends bob a private message');
  await alice.say('bye bob');
  await alice.tell('bob', 'see you tomorrow');
  await Promise.all([received('alice', 3), received('carol', 3)]);

  console.log('bob comes back: the private message sent while he was away is there');
  bob = await ChatMember.join('bob', 'lobby', listener('bob'));
  await received('bob', 3);
  await sleep(settleMs);
  for (const member of [alice, bob, carol]) await member.leave();

  const expected: Record<(typeof people)[number], string[]> = {
    alice: ['[#lobby] alice: hi everyone', '[#lobby] carol: hello all', '[#lobby] alice: bye bob'],
    bob: ['[#lobby] alice: hi everyone', '[#lobby] carol: hello all', '[private] alice: see you tomorrow'],
    carol: ['[private] bob: lunch at noon?', '[#lobby] carol: hello all', '[#lobby] alice: bye bob'],
  };
  for (const name of people) {
    const got = heard.get(name) ?? [];
    expect(JSON.stringify(got) === JSON.stringify(expected[name]), `${name} saw ${JSON.stringify(got)}, expected ${JSON.stringify(expected[name])}`);
  }
  console.log('everyone saw what was said in #lobby while they were there, and every private message arrived, 2 of them sent while the recipient was away');
}

/** Interactive: joins as --user in --room and reads lines from stdin until /quit or its end. */
async function interactive(user: string, room: string): Promise<void> {
  expect(/^[\w-]+$/.test(user) && /^[\w-]+$/.test(room), 'user and room names are letters, digits, _ and -');
  const member = await ChatMember.join(user, room, (message) => {
    // What we said to the room comes back to us too: no need to print it again.
    if (message.kind === 'room' && message.from === user) return;
    console.log(describe(message));
  });
  console.log(`joined #${room} as ${user}. A line is said to the room; /msg NAME TEXT sends a private message; /quit leaves.`);
  try {
    for await (const line of createInterface({ input: process.stdin, terminal: false })) {
      const text = line.trim();
      if (text === '') continue;
      if (text === '/quit') break;
      const privateMessage = /^\/msg\s+([\w-]+)\s+(.+)$/.exec(text);
      if (privateMessage?.[1] !== undefined && privateMessage[2] !== undefined) {
        await member.tell(privateMessage[1], privateMessage[2]);
        console.log(`(sent to ${privateMessage[1]})`);
      } else if (text.startsWith('/')) {
        console.log('commands: /msg NAME TEXT, /quit');
      } else {
        await member.say(text);
      }
    }
  } finally {
    await member.leave();
  }
  console.log(`${user} left #${room}`);
}

async function main(): Promise<void> {
  let values: { user?: string | undefined; room?: string | undefined };
  try {
    ({ values } = parseArgs({ options: { user: { type: 'string' }, room: { type: 'string', default: 'lobby' } }, strict: true }));
  } catch (error) {
    throw new ExampleFailure(`${error instanceof Error ? error.message : String(error)}; usage: chat [--user NAME [--room ROOM]]`);
  }
  if (values.user === undefined) await demo();
  else await interactive(values.user, values.room ?? 'lobby');
}

runExample('chat', main);
