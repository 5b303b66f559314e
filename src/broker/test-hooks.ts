/**
 * Hooks for tests, read from the environment and off unless a test sets them. Not settings: nothing
 * here belongs in production.
 *
 *   OSPREY_TEST_HOLD_RECOVERY=<file>   while <file> exists, start-up recovery of the partition logs
 *                                      waits before opening any (the listener already answers), so a
 *                                      test can observe a broker that is still recovering without
 *                                      racing it; removing the file lets recovery proceed.
 *   OSPREY_TEST_HOLD_CLEANER_SWAP=<file>
 *                                      while <file> exists, the log cleaner waits with a pass's
 *                                      cleaned segment files written and fsynced, before it swaps
 *                                      them in, so a test can kill the broker in the middle of
 *                                      cleaning; removing the file lets the swap proceed.
 *   OSPREY_TEST_HOLD_DEFERRED_APPEND=<file>
 *                                      while <file> exists, a produced batch appended after an await
 *                                      (recompressed, or queued behind one: broker/produce.ts) waits
 *                                      just before its leadership check and append, so a test can
 *                                      move leadership meanwhile; removing the file lets it proceed.
 */
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../logging/logger.js';

export const holdRecoveryVariable = 'OSPREY_TEST_HOLD_RECOVERY';
export const holdCleanerSwapVariable = 'OSPREY_TEST_HOLD_CLEANER_SWAP';
export const holdDeferredAppendVariable = 'OSPREY_TEST_HOLD_DEFERRED_APPEND';
const holdPollMs = 50;

/**
 * Waits while the file named by the environment variable `variable` exists (returns at once when it
 * is unset or the file is absent), logging `message` once; `shouldStop` ends the wait early (the
 * broker is stopping).
 */
async function waitWhileHeld(variable: string, logger: Logger, message: string, fields: Readonly<Record<string, string | number>>, shouldStop: () => boolean): Promise<void> {
  const holdFile = process.env[variable];
  if (holdFile === undefined || holdFile === '' || !existsSync(holdFile)) return;
  logger.warn(message, { ...fields, file: holdFile });
  while (existsSync(holdFile) && !shouldStop()) await sleep(holdPollMs);
}

export function waitWhileRecoveryIsHeld(shouldStop: () => boolean, logger: Logger): Promise<void> {
  return waitWhileHeld(holdRecoveryVariable, logger, 'test hook: partition recovery held while the file exists', {}, shouldStop);
}

export function waitWhileCleanerSwapIsHeld(shouldStop: () => boolean, logger: Logger): Promise<void> {
  return waitWhileHeld(holdCleanerSwapVariable, logger, 'test hook: cleaned segments written; their swap is held while the file exists', {}, shouldStop);
}

export function waitWhileDeferredAppendIsHeld(logger: Logger, topic: string, partition: number): Promise<void> {
  return waitWhileHeld(holdDeferredAppendVariable, logger, 'test hook: a deferred produce append is held while the file exists', { topic, partition }, () => false);
}
