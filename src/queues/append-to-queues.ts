/**
 * The second half of a publish, once routing found the queues: each queue's store appends the
 * message. A publish (server/amqp/session/) and a delayed message falling due (delayed/) both end
 * here.
 */
import type { Queue } from './queue.js';
import type { StoredMessage } from './queue-store/stored-message.js';

/**
 * Appends the message to every queue; returns what resolves once each holds it as durably as it
 * promises (a persistent message in a durable queue: fsynced), or null when there is nothing to
 * wait for.
 */
export function appendToQueues(queues: Iterable<Queue>, message: StoredMessage): Promise<unknown> | null {
  let waitFor: Promise<unknown> | null = null;
  let waits: Promise<unknown>[] | null = null;
  for (const queue of queues) {
    const appended = queue.store.append(message);
    if (!message.persistent || queue.settings.storageId === '') continue;
    if (waitFor === null) waitFor = appended.durable;
    else (waits ??= [waitFor]).push(appended.durable);
  }
  return waits === null ? waitFor : Promise.all(waits);
}
