/**
 * The second half of a publish, once routing found the queues: each queue takes the message by its
 * own rules (Queue.enqueue: length limits may refuse it). A publish (server/amqp/session/) and a
 * delayed message falling due (delayed/) both end here.
 */
import type { Queue } from './queue.js';
import type { StoredMessage } from './queue-store/stored-message.js';

/** Set by appendToQueues when a queue refused the message (full, with overflow reject-publish); the caller resets it. */
export interface AppendRefusals {
  refused: boolean;
}

/**
 * Offers the message to every queue; returns what resolves once each that took it holds it as
 * durably as it promises (Queue.holdsDurably: fsynced), or null when there is nothing to wait for. A refusal sets `refusals.refused`.
 */
export function appendToQueues(queues: Iterable<Queue>, message: StoredMessage, refusals: AppendRefusals): Promise<unknown> | null {
  let waitFor: Promise<unknown> | null = null;
  let waits: Promise<unknown>[] | null = null;
  for (const queue of queues) {
    const appended = queue.enqueue(message);
    if (appended === null) {
      refusals.refused = true;
      continue;
    }
    if (!queue.holdsDurably(message)) continue;
    if (waitFor === null) waitFor = appended.durable;
    else (waits ??= [waitFor]).push(appended.durable);
  }
  return waits === null ? waitFor : Promise.all(waits);
}
