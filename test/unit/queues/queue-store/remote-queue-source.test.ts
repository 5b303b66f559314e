/**
 * The bookkeeping of a queue's messages taken from the broker serving it
 * (src/queues/queue-store/remote-queue-source.ts): when it subscribes and unsubscribes, what it
 * buffers, which subscription each ack and requeue goes to, and what it forgets when a
 * subscription ends. The link here is a small fake that records what the source asks of it; the
 * real link, over AMQP between broker processes, is test/integration/cluster-amqp-queues.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { InExclusiveUseError, RemoteQueueSource, linkWindow, type LinkedGet, type LinkReceiver, type LinkSubscription, type QueueLeaderLink } from '../../../../src/queues/queue-store/remote-queue-source.js';
import type { ServedQueueCounts } from '../../../../src/queues/queue-store/queue-store-api.js';
import type { QueuedMessage, StoredMessage } from '../../../../src/queues/queue-store/stored-message.js';
import { RecordingLogger, testMessage } from './queue-store-fixtures.js';

/** One subscription on the fake serving broker: what was acked, requeued, whether it was closed. */
class FakeSubscription implements LinkSubscription {
  readonly acks: bigint[] = [];
  readonly requeues: bigint[] = [];
  closed = false;
  private ended = false;
  /** Resolved or rejected by the test (answer()), as the serving broker answers basic.consume. */
  readonly started: Promise<void>;
  answer: (refusal?: Error) => void = () => undefined;

  /** endsOnClose false: the receiver hears of a close only when the test calls end() (a link may report it late). */
  constructor(
    public window: number,
    private readonly receiver: LinkReceiver,
    private readonly endsOnClose: boolean,
    readonly exclusive = false,
  ) {
    this.started = new Promise<void>((resolve, reject) => {
      this.answer = (refusal) => {
        if (refusal === undefined) return resolve();
        reject(refusal);
        this.end(refusal.message);
      };
    });
    this.started.catch(() => undefined);
  }

  /** The serving broker delivers the message with this delivery tag. */
  deliver(deliveryTag: number, message: StoredMessage, redelivered = false, deliveryCount = 0): void {
    this.receiver.delivered({ deliveryTag: BigInt(deliveryTag), message, redelivered, deliveryCount });
  }

  /** The link is lost or leadership moved: the receiver hears it once, as from the real link. */
  end(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.receiver.ended(reason);
  }

  setWindow(window: number): void {
    this.window = window;
  }

  ack(deliveryTag: bigint): void {
    this.acks.push(deliveryTag);
  }

  requeue(deliveryTag: bigint): void {
    this.requeues.push(deliveryTag);
  }

  /** As the real link does, closing ends the subscription, and the receiver hears that at once (unless told to wait). */
  close(): void {
    this.closed = true;
    if (this.endsOnClose) this.end('no consumers here any more');
  }
}

class FakeLink implements QueueLeaderLink {
  readonly subscriptions: FakeSubscription[] = [];
  endsOnClose = true;

  /** What basic.get finds where the queue is served, first first; and what was done with each. */
  readonly readyThere: StoredMessage[] = [];
  readonly gets: { deliveryTag: bigint; acked: number; requeued: number }[] = [];

  forward(): Promise<void> {
    return Promise.reject(new Error('not used by RemoteQueueSource'));
  }

  get(): Promise<LinkedGet | null> {
    const message = this.readyThere.shift();
    if (message === undefined) return Promise.resolve(null);
    const got = { deliveryTag: BigInt(100 + this.gets.length), acked: 0, requeued: 0 };
    this.gets.push(got);
    return Promise.resolve({ linked: { deliveryTag: got.deliveryTag, message, redelivered: false, deliveryCount: 0 }, messageCount: this.readyThere.length, ack: () => got.acked++, requeue: () => got.requeued++ });
  }

  purge(): Promise<number> {
    return Promise.reject(new Error('not used by RemoteQueueSource'));
  }

  counts(): Promise<ServedQueueCounts> {
    return Promise.reject(new Error('not used by RemoteQueueSource'));
  }

  servingNodeId(): number {
    return 2;
  }

  subscribe(window: number, receiver: LinkReceiver, exclusive: boolean): FakeSubscription {
    const subscription = new FakeSubscription(window, receiver, this.endsOnClose, exclusive);
    this.subscriptions.push(subscription);
    return subscription;
  }

  get last(): FakeSubscription {
    const last = this.subscriptions.at(-1);
    assert.ok(last !== undefined, 'no subscription yet');
    return last;
  }
}

function setUp(): { link: FakeLink; source: RemoteQueueSource; logger: RecordingLogger; ready: { calls: number } } {
  const link = new FakeLink();
  const logger = new RecordingLogger();
  const ready = { calls: 0 };
  const source = new RemoteQueueSource(link, 'orders', logger, () => ready.calls++);
  return { link, source, logger, ready };
}

/** Set up, active, with `consumers` here: subscribed. */
function subscribed(consumers = 1): ReturnType<typeof setUp> & { subscription: FakeSubscription } {
  const setting = setUp();
  setting.source.setActive(true);
  setting.source.consumersChanged(consumers, 0);
  return { ...setting, subscription: setting.link.last };
}

function bodyOf(message: QueuedMessage | null): string | null {
  return message === null ? null : message.message.body.toString();
}

/** Takes `count` messages, each of which must be there. */
function take(source: RemoteQueueSource, count: number): QueuedMessage[] {
  return Array.from({ length: count }, () => {
    const next = source.takeNext();
    assert.ok(next !== null, 'a message to take');
    return next;
  });
}

/** The resubscribe delay is 500 ms; these waits are well past it. */
const pastRetryDelayMs = 900;

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail('condition not met in time');
    await sleep(10);
  }
}

test('no subscription until the source is active and consumers are here; then one, with the link window', () => {
  const { link, source } = setUp();
  source.consumersChanged(2, 0);
  assert.equal(link.subscriptions.length, 0, 'inactive: this broker serves the queue itself');
  source.setActive(true);
  assert.equal(link.subscriptions.length, 1);
  assert.equal(link.last.window, linkWindow);
  source.consumersChanged(3, 0);
  source.setActive(true);
  assert.equal(link.subscriptions.length, 1, 'one subscription however many consumers');

  const other = setUp();
  other.source.setActive(true);
  other.source.consumersChanged(0, 0);
  assert.equal(other.link.subscriptions.length, 0, 'active without consumers: nothing taken from the serving broker');
  other.source.consumersChanged(1, 0);
  assert.equal(other.link.subscriptions.length, 1);
  source.stop();
  other.source.stop();
});

test('deliveries are buffered in order: ready count and bytes, notifyReady per delivery, peek and take', () => {
  const { source, ready, subscription } = subscribed();
  assert.equal(source.peekNext(), null);
  assert.equal(source.takeNext(), null);

  const messages = [testMessage(1), testMessage(2, { body: Buffer.from('a longer body') }), testMessage(3, { body: Buffer.alloc(0) })];
  subscription.deliver(11, messages[0]!);
  subscription.deliver(12, messages[1]!, true, 2);
  subscription.deliver(13, messages[2]!);
  assert.equal(ready.calls, 3);
  assert.equal(source.readyCount, 3);
  assert.equal(source.readyBytes, 'body-1'.length + 'a longer body'.length);
  assert.equal(source.unackedCount, 0);

  const peeked = source.peekNext();
  assert.equal(bodyOf(peeked), 'body-1');
  assert.equal(source.peekNext(), peeked, 'peeking takes nothing');
  assert.equal(source.readyCount, 3);

  const first = source.takeNext()!;
  assert.equal(first, peeked);
  assert.deepEqual(first, { offset: 11, message: messages[0], redelivered: false, deliveryCount: 0 });
  assert.equal(source.readyCount, 2);
  assert.equal(source.readyBytes, 'a longer body'.length);
  assert.equal(source.unackedCount, 1);
  const [second, third] = take(source, 2);
  assert.deepEqual(second, { offset: 12, message: messages[1], redelivered: true, deliveryCount: 2 });
  assert.equal(third!.message, messages[2]);
  assert.equal(source.takeNext(), null);
  assert.equal(source.readyCount, 0);
  assert.equal(source.readyBytes, 0);
  assert.equal(source.unackedCount, 3);
  for (const message of [first, second!, third!]) assert.equal(source.owns(message), true);
  assert.equal(source.owns({ offset: 11, message: messages[0]!, redelivered: false, deliveryCount: 0 }), false, 'a message of a store of its own (an equal object, not this one)');
  source.stop();
});

test('settle acks and requeue gives back by the serving broker\'s delivery tag, once each', () => {
  const { source, subscription } = subscribed();
  for (const tag of [5, 6, 7]) subscription.deliver(tag, testMessage(tag));
  const [five, six, seven] = take(source, 3);
  source.settle(six!);
  source.requeue(five!);
  assert.deepEqual(subscription.acks, [6n]);
  assert.deepEqual(subscription.requeues, [5n]);
  assert.equal(source.owns(six!), false);
  assert.equal(source.owns(five!), false);
  assert.equal(source.unackedCount, 1);
  // Settled or given back already: nothing more is sent.
  source.settle(six!);
  source.requeue(six!);
  source.settle(five!);
  assert.deepEqual(subscription.acks, [6n]);
  assert.deepEqual(subscription.requeues, [5n]);
  source.settle(seven!);
  assert.deepEqual(subscription.acks, [6n, 7n]);
  assert.equal(source.unackedCount, 0);
  assert.equal(subscription.closed, false, 'consumers are still here');
  source.stop();
});

test('when the consumers go, the subscription stays until what they took is settled, then closes and drops the buffer', async () => {
  const { link, source, ready, subscription } = subscribed(2);
  for (const tag of [1, 2, 3, 4]) subscription.deliver(tag, testMessage(tag));
  const [one, two] = take(source, 2);

  source.consumersChanged(0, 0);
  assert.equal(subscription.closed, false, 'two messages taken and not settled');
  assert.equal(source.unackedCount, 2);
  // A consumer comes back meanwhile: the same subscription serves it.
  source.consumersChanged(1, 0);
  source.consumersChanged(0, 0);
  assert.equal(link.subscriptions.length, 1);
  assert.equal(subscription.closed, false);

  source.settle(one!);
  assert.equal(subscription.closed, false, 'one still taken');
  const buffered = source.peekNext()!;
  source.requeue(two!);
  assert.equal(subscription.closed, true);
  assert.deepEqual(subscription.acks, [1n]);
  assert.deepEqual(subscription.requeues, [2n]);
  // The buffered ones are the serving broker's again: dropped here, not acked or given back one by one.
  assert.equal(source.readyCount, 0);
  assert.equal(source.readyBytes, 0);
  assert.equal(source.unackedCount, 0);
  assert.equal(source.owns(buffered), false);
  assert.equal(source.takeNext(), null);

  // A delivery still under way on the closed subscription is ignored; no new subscription comes.
  const readyCalls = ready.calls;
  subscription.deliver(5, testMessage(5));
  assert.equal(source.readyCount, 0);
  assert.equal(ready.calls, readyCalls);
  await sleep(pastRetryDelayMs);
  assert.equal(link.subscriptions.length, 1);
  source.stop();
});

test('when the consumers go with nothing taken, the subscription closes at once', () => {
  const { source, subscription } = subscribed();
  subscription.deliver(1, testMessage(1));
  source.consumersChanged(0, 0);
  assert.equal(subscription.closed, true);
  assert.equal(source.readyCount, 0);
  assert.deepEqual(subscription.acks, []);
  assert.deepEqual(subscription.requeues, []);
  source.stop();
});

test('a subscription that ends drops its buffer and takings, ignores their acks, and is replaced after the retry delay', async () => {
  const { link, source, logger, ready, subscription: first } = subscribed();
  for (const tag of [1, 2, 3]) first.deliver(tag, testMessage(tag));
  const [one, two] = take(source, 2);
  source.settle(one!);
  assert.deepEqual(first.acks, [1n]);

  const endedAtMs = performance.now();
  first.end('leadership moved');
  assert.equal(source.readyCount, 0);
  assert.equal(source.readyBytes, 0);
  assert.equal(source.unackedCount, 0);
  assert.equal(source.peekNext(), null);
  assert.equal(source.owns(two!), false);
  assert.ok(logger.lines.some((line) => line.level === 'info' && line.fields?.['queue'] === 'orders' && line.fields['reason'] === 'leadership moved'), 'the end is logged');
  // The serving broker has given the message back already (it comes again, flagged): nothing is sent for it.
  source.settle(two!);
  source.requeue(two!);
  assert.deepEqual(first.acks, [1n]);
  assert.deepEqual(first.requeues, []);
  const readyCalls = ready.calls;
  first.deliver(4, testMessage(4));
  assert.equal(source.readyCount, 0, 'a delivery from the ended subscription is ignored');
  assert.equal(ready.calls, readyCalls);

  await sleep(200);
  assert.equal(link.subscriptions.length, 1, 'not at once: a link that keeps failing is not hammered');
  await waitFor(() => link.subscriptions.length === 2);
  const waitedMs = performance.now() - endedAtMs;
  assert.ok(waitedMs >= 450 && waitedMs < 3_000, `subscribed again after ${waitedMs} ms`);

  // The new subscription's messages are settled there, not on the ended one.
  const second = link.last;
  second.deliver(2, testMessage(2), true, 0);
  const again = source.takeNext()!;
  assert.equal(again.redelivered, true);
  source.settle(again);
  source.settle(two!);
  assert.deepEqual(second.acks, [2n]);
  assert.deepEqual(first.acks, [1n]);
  source.stop();
});

test('no new subscription after an end when the consumers are gone, or go during the delay', async () => {
  const gone = subscribed();
  gone.link.last.deliver(1, testMessage(1));
  gone.source.takeNext();
  gone.source.consumersChanged(0, 0); // kept for the unsettled message
  gone.link.last.end('link lost');

  const going = subscribed();
  going.link.last.end('link lost');
  going.source.consumersChanged(0, 0);

  // A consumer back during the delay: subscribed at once (the retry was cancelled, not left to run as well).
  const back = subscribed();
  back.link.last.end('link lost');
  back.source.consumersChanged(0, 0);
  back.source.consumersChanged(1, 0);
  assert.equal(back.link.subscriptions.length, 2);

  await sleep(pastRetryDelayMs);
  assert.equal(gone.link.subscriptions.length, 1);
  assert.equal(going.link.subscriptions.length, 1);
  assert.equal(back.link.subscriptions.length, 2);
  assert.equal(back.link.last.closed, false);
  for (const each of [gone, going, back]) each.source.stop();
});

test('setActive(false) closes the subscription and cancels a pending retry; active again, it subscribes at once', async () => {
  const { link, source, subscription: first } = subscribed();
  first.deliver(1, testMessage(1));
  const taken = source.takeNext()!;
  first.deliver(2, testMessage(2));

  // This broker serves the queue now: taken or not, the messages are its own store's business.
  source.setActive(false);
  assert.equal(first.closed, true);
  assert.equal(source.readyCount, 0);
  assert.equal(source.owns(taken), false);
  source.settle(taken);
  assert.deepEqual(first.acks, []);

  source.setActive(true);
  assert.equal(link.subscriptions.length, 2);
  const second = link.last;
  second.end('link lost');
  source.setActive(false);
  await sleep(pastRetryDelayMs);
  assert.equal(link.subscriptions.length, 2, 'the retry was cancelled');
  assert.equal(second.closed, false, 'an ended subscription is not closed again');

  // Inactive and active again within the delay: subscribed at once, and only once.
  source.setActive(true);
  link.last.end('link lost');
  source.setActive(false);
  source.setActive(true);
  assert.equal(link.subscriptions.length, 4);
  await sleep(pastRetryDelayMs);
  assert.equal(link.subscriptions.length, 4);
  source.stop();
});

test('the end of a closed subscription, heard late, changes nothing for the one that replaced it', async () => {
  const { link, source } = setUp();
  link.endsOnClose = false;
  source.setActive(true);
  source.consumersChanged(1, 0);
  const first = link.last;
  source.consumersChanged(0, 0);
  assert.equal(first.closed, true);
  source.consumersChanged(1, 0);
  const second = link.last;
  assert.notEqual(second, first);
  second.deliver(1, testMessage(1));
  second.deliver(2, testMessage(2));
  const taken = source.takeNext()!;

  first.end('no consumers here any more');
  assert.equal(source.readyCount, 1);
  assert.equal(source.owns(taken), true);
  source.settle(taken);
  assert.deepEqual(second.acks, [1n]);
  await sleep(pastRetryDelayMs);
  assert.equal(link.subscriptions.length, 2, 'no retry for the closed one');
  assert.equal(second.closed, false);
  source.stop();
});

test('stop closes the subscription, and nothing subscribes after it', async () => {
  const { link, source, subscription: first } = subscribed();
  first.deliver(1, testMessage(1));
  source.stop();
  assert.equal(first.closed, true);
  assert.equal(source.readyCount, 0);
  source.consumersChanged(2, 0);
  await sleep(pastRetryDelayMs);
  assert.equal(link.subscriptions.length, 1);

  // Stopped while waiting to subscribe again: the retry does not happen either.
  const waiting = subscribed();
  waiting.link.last.end('link lost');
  waiting.source.stop();
  await sleep(pastRetryDelayMs);
  assert.equal(waiting.link.subscriptions.length, 1);
});

test('basic.get takes a buffered message first, else gets one where the queue is served, settled or given back there', async () => {
  const { link, source, subscription } = subscribed();
  subscription.deliver(1, testMessage(1));
  link.readyThere.push(testMessage(2), testMessage(3));
  const buffered = (await source.takeFromServer())!.message;
  assert.equal(bodyOf(buffered), 'body-1');
  assert.equal(link.gets.length, 0, 'nothing asked of the serving broker while a message is buffered');

  const [secondGot, thirdGot] = [(await source.takeFromServer())!, (await source.takeFromServer())!];
  // get-ok's message-count: what the serving broker has left.
  assert.deepEqual([secondGot.messageCount, thirdGot.messageCount], [1, 0]);
  const [second, third] = [secondGot.message, thirdGot.message];
  assert.deepEqual([bodyOf(second), bodyOf(third)], ['body-2', 'body-3']);
  assert.deepEqual([second.offset, third.offset], [100, 101]);
  assert.equal(await source.takeFromServer(), null, 'nothing ready there');
  assert.equal(source.owns(second), true);
  assert.equal(source.unackedCount, 3);
  source.settle(second);
  source.requeue(third);
  source.settle(second);
  assert.deepEqual(link.gets, [
    { deliveryTag: 100n, acked: 1, requeued: 0 },
    { deliveryTag: 101n, acked: 0, requeued: 1 },
  ]);
  assert.deepEqual(subscription.acks, [], 'not settled on the subscription');
  assert.deepEqual(subscription.requeues, []);
  source.settle(buffered);
  assert.deepEqual(subscription.acks, [1n]);

  // Without consumers here (no subscription), a get still goes to the serving broker.
  const alone = setUp();
  alone.source.setActive(true);
  alone.link.readyThere.push(testMessage(4));
  const got = (await alone.source.takeFromServer())!.message;
  assert.equal(bodyOf(got), 'body-4');
  assert.equal(alone.link.subscriptions.length, 0);
  alone.source.settle(got);
  assert.equal(alone.link.gets[0]!.acked, 1);
  source.stop();
  alone.source.stop();
});

test('a subscription failing again and again for one reason is logged once, and again when the reason changes or after a delivery', async () => {
  const { link, source, logger } = subscribed();
  const ends = (): string[] => logger.lines.filter((line) => line.message === 'a link to the broker serving a queue ended').map((line) => String(line.fields?.['reason']));
  link.last.end('no broker serves the queue just now');
  await waitFor(() => link.subscriptions.length === 2);
  link.last.end('no broker serves the queue just now');
  await waitFor(() => link.subscriptions.length === 3);
  link.last.end('broker 2 is not registered in the cluster');
  await waitFor(() => link.subscriptions.length === 4);
  link.last.deliver(1, testMessage(1));
  link.last.end('broker 2 is not registered in the cluster');
  assert.deepEqual(ends(), ['no broker serves the queue just now', 'broker 2 is not registered in the cluster', 'broker 2 is not registered in the cluster']);
  source.stop();
});

test('a message got with basic.get outlives the end of a subscription: its ack still goes where the queue is served', async () => {
  const { link, source, subscription } = subscribed();
  link.readyThere.push(testMessage(1, { body: Buffer.from('got') }));
  const got = (await source.takeFromServer())?.message ?? null;
  assert.equal(bodyOf(got), 'got');
  subscription.deliver(1, testMessage(2, { body: Buffer.from('buffered') }));
  subscription.end('leadership moved');
  assert.equal(source.readyCount, 0, 'the buffer goes with its subscription');
  assert.ok(source.owns(got!), 'the got message is still this source\'s');
  source.settle(got!);
  assert.deepEqual(
    link.gets.map((entry) => entry.acked),
    [1],
  );
  source.stop();
});

test('a link that reports the end before subscribe() returns leaves no ended subscription behind: it subscribes again later', async () => {
  const { link, source } = setUp();
  const subscribeOnce = link.subscribe.bind(link);
  let first = true;
  link.subscribe = (window, receiver, exclusive) => {
    const subscription = subscribeOnce(window, receiver, exclusive);
    if (first) {
      first = false;
      subscription.end('refused at once');
    }
    return subscription;
  };
  source.setActive(true);
  source.consumersChanged(1, 0);
  assert.equal(link.subscriptions.length, 1);
  await waitFor(() => link.subscriptions.length === 2);
  link.last.deliver(1, testMessage(3, { body: Buffer.from('after the retry') }));
  assert.equal(bodyOf(source.takeNext()), 'after the retry');
  source.stop();
});

test('the first consumer here is admitted once the serving broker takes the subscription, exclusive there when the consumer is', async () => {
  const { link, source } = setUp();
  source.setActive(true);
  const admitted = source.admit(true, 0);
  assert.ok(admitted !== null);
  assert.equal(link.subscriptions.length, 1);
  assert.equal(link.last.exclusive, true);
  let settled = false;
  void admitted.then(() => (settled = true));
  await sleep(10);
  assert.equal(settled, false, 'not before the serving broker answers');
  link.last.answer();
  await admitted;
  source.consumersChanged(1, 0);
  assert.equal(link.subscriptions.length, 1, 'the admitted subscription is the consumers\' one');
  // More consumers here need no word from there; this broker serving the queue needs none either.
  assert.equal(source.admit(false, 0), null);
  source.setActive(false);
  assert.equal(source.admit(true, 0), null);
});

test('a refusal there (exclusive use) refuses the consumer; an unreachable serving broker refuses an exclusive consumer only', async () => {
  const { link, source } = setUp();
  source.setActive(true);
  const plain = source.admit(false, 0);
  assert.ok(plain !== null);
  link.last.answer(new InExclusiveUseError('in exclusive use'));
  await assert.rejects(plain, InExclusiveUseError);

  const exclusive = source.admit(true, 0);
  assert.ok(exclusive !== null);
  link.last.answer(new Error('connection refused'));
  await assert.rejects(exclusive, /connection refused/);

  const waiting = source.admit(false, 0);
  assert.ok(waiting !== null);
  link.last.answer(new Error('connection refused'));
  await waiting; // admitted: it gets messages once a broker serves the queue again
});

test('a subscription left from consumers gone is kept for a consumer of the same kind and replaced for one of the other kind', async () => {
  const { link, source } = setUp();
  source.setActive(true);
  const first = source.admit(false, 0)!;
  link.last.answer();
  await first;
  source.consumersChanged(1, 0);
  link.last.deliver(1, testMessage(1));
  const taken = source.takeNext()!;
  source.consumersChanged(0, 0); // gone, its message not settled yet: the subscription stays
  const kept = link.last;
  assert.equal(kept.closed, false);
  assert.equal(source.admit(false, 0), null, 'a plain consumer takes the subscription left');
  const exclusive = source.admit(true, 0);
  assert.ok(exclusive !== null);
  assert.equal(kept.closed, true, 'the plain subscription closed: the serving broker would count it against the exclusive one');
  assert.equal(link.last.exclusive, true);
  link.last.answer();
  await exclusive;
  source.settle(taken); // its subscription is gone: nothing to ack there (the serving broker gave it back)
  assert.deepEqual(kept.acks, []);
});

test('the subscription takes no more at a time than the consumers here may hold together, at most linkWindow', async () => {
  const { link, source } = setUp();
  source.setActive(true);
  const admitted = source.admit(false, 1);
  assert.ok(admitted !== null);
  assert.equal(link.last.window, 1, 'a prefetch-1 consumer: one message at a time');
  link.last.answer();
  await admitted;
  source.consumersChanged(1, 1);
  source.consumersChanged(2, 11);
  assert.equal(link.last.window, 11, 'a second consumer, prefetch 10');
  source.consumersChanged(3, 0);
  assert.equal(link.last.window, linkWindow, 'a consumer without a limit');
  source.consumersChanged(2, 1000);
  assert.equal(link.last.window, linkWindow, 'never above linkWindow');
  source.consumersChanged(1, 1);
  link.last.deliver(1, testMessage(1));
  source.takeNext();
  source.consumersChanged(0, 0);
  assert.equal(link.last.window, 1, 'kept while what the consumers took is unsettled');
  assert.equal(link.subscriptions.length, 1);
});
