/**
 * A group coordinator over a temporary group log, a manual clock and a fake topic directory, with
 * shorthands for the requests tests send.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GroupSettings } from '../../../src/config/broker-config.js';
import { defaultBrokerConfig } from '../../../src/config/broker-config.js';
import { createLogger } from '../../../src/logging/logger.js';
import type { JoinRequest, JoinResult, Protocol, SyncResult } from '../../../src/groups/classic-group.js';
import { encodeAssignment, encodeSubscription } from '../../../src/protocol/kafka/consumer-protocol.js';
import { GroupCoordinator } from '../../../src/groups/coordinator.js';
import type { TopicDirectory } from '../../../src/groups/coordinator.js';
import { ManualScheduler } from '../../../src/groups/scheduler.js';
import { asOffset, type Offset } from '../../../src/storage/offset.js';

export class FakeTopics implements TopicDirectory {
  readonly partitions = new Map<string, { logStartOffset: Offset; logEndOffset: Offset; highWatermark: Offset }>();

  /** Topic name → id and partition count (ids are the name's bytes, zero-padded). */
  readonly topicInfo = new Map<string, { id: Buffer; partitionCount: number }>();

  add(topic: string, partitionCount: number, endOffset = 1000): this {
    for (let partition = 0; partition < partitionCount; partition++) this.partitions.set(`${topic}/${partition}`, { logStartOffset: asOffset(0), logEndOffset: asOffset(endOffset), highWatermark: asOffset(endOffset) });
    const id = Buffer.alloc(16);
    id.write(topic.slice(0, 16));
    this.topicInfo.set(topic, { id, partitionCount: Math.max(partitionCount, this.topicInfo.get(topic)?.partitionCount ?? 0) });
    return this;
  }

  topicMetadata(name: string) {
    return this.topicInfo.get(name);
  }

  topicNames() {
    return this.topicInfo.keys();
  }

  topicName(id: Buffer) {
    for (const [name, info] of this.topicInfo) if (info.id.equals(id)) return name;
    return undefined;
  }

  partitionOffsets(topic: string, partition: number) {
    return this.partitions.get(`${topic}/${partition}`);
  }
}

export interface Harness {
  readonly coordinator: GroupCoordinator;
  readonly scheduler: ManualScheduler;
  readonly topics: FakeTopics;
  readonly directory: string;
  readonly settings: GroupSettings;
  readonly logLines: string[];
  /** Closes and opens the coordinator again over the same log (a restart). */
  reopen(settings?: Partial<GroupSettings>): Promise<Harness>;
  close(): Promise<void>;
}

const directories: string[] = [];
process.on('exit', () => {
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
});

export async function openHarness(settings: Partial<GroupSettings> = {}, existing?: { directory: string; scheduler: ManualScheduler; topics: FakeTopics }): Promise<Harness> {
  const directory = existing?.directory ?? mkdtempSync(join(tmpdir(), 'osprey-groups-'));
  if (existing === undefined) directories.push(directory);
  const scheduler = existing?.scheduler ?? new ManualScheduler();
  const topics = existing?.topics ?? new FakeTopics().add('orders', 6).add('payments', 2);
  const logLines: string[] = [];
  const logger = createLogger('debug', (line) => void logLines.push(line));
  let memberCount = 0;
  const fullSettings: GroupSettings = { ...defaultBrokerConfig.groups, ...settings };
  const coordinator = await GroupCoordinator.open({
    log: { directory: join(directory, 'group-offsets') },
    settings: fullSettings,
    flush: 'always',
    flushIntervalMs: 1000,
    topics,
    logger,
    scheduler,
    newMemberId: (prefix) => `${prefix}-${++memberCount}`,
    newConsumerMemberId: () => `consumer-${++memberCount}`,
  });
  const harness: Harness = {
    coordinator,
    scheduler,
    topics,
    directory,
    settings: fullSettings,
    logLines,
    async reopen(next = settings) {
      await coordinator.close();
      return openHarness(next, { directory, scheduler, topics });
    },
    close: () => coordinator.close(),
  };
  return harness;
}

export const subscription = (...topics: string[]): Buffer => encodeSubscription(topics);
export const assignment = (topic: string, ...partitions: number[]): Buffer => encodeAssignment([{ topic, partitions }]);

export function joinRequest(overrides: Partial<JoinRequest> = {}): JoinRequest {
  const protocols: Protocol[] = [{ name: 'range', metadata: subscription('orders') }];
  return {
    memberId: '',
    groupInstanceId: null,
    clientId: 'client',
    clientHost: '/127.0.0.1',
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 30_000,
    protocolType: 'consumer',
    protocols,
    requireKnownMemberId: false,
    supportsSkipAssignment: false,
    ...overrides,
  };
}

/** A promise's outcome so far, without waiting: tests check whether an answer was given yet. */
export function track<T>(promise: Promise<T>): { readonly settled: boolean; readonly value: T } {
  let settled = false;
  let value: T | undefined;
  void promise.then((result) => {
    settled = true;
    value = result;
  });
  return {
    get settled() {
      return settled;
    },
    get value() {
      if (!settled) throw new Error('not answered yet');
      return value as T;
    },
  };
}

/** Lets promise callbacks (and the group log's fsyncs) run. */
export async function settle(rounds = 5): Promise<void> {
  for (let round = 0; round < rounds; round++) await new Promise((resolve) => setImmediate(resolve));
}

/** Waits until `condition()` holds (polling real time briefly: fsyncs are real). */
export async function eventually(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/**
 * Joins `count` members with the given protocols and runs the group to Stable: every member gets
 * its join answer, the leader syncs with one partition each, all sync. Returns members by id.
 */
export async function formGroup(harness: Harness, groupId: string, count: number, overrides: Partial<JoinRequest> = {}): Promise<{ generationId: number; leader: string; members: string[]; syncs: SyncResult[] }> {
  const joins = Array.from({ length: count }, (_, index) => track(harness.coordinator.joinGroup(groupId, joinRequest({ clientId: `c${index}`, ...overrides }))));
  harness.scheduler.advance(harness.settings.initialRebalanceDelayMs);
  await eventually(() => joins.every((join) => join.settled), 'join answers');
  const results: JoinResult[] = joins.map((join) => join.value);
  for (const result of results) if (result.errorCode !== 0) throw new Error(`join failed with ${result.errorCode}`);
  const leader = results[0]!.leader;
  const members = results.map((result) => result.memberId);
  const leaderResult = results.find((result) => result.memberId === leader)!;
  const syncs = await Promise.all(
    results.map((result) =>
      harness.coordinator.syncGroup(groupId, {
        memberId: result.memberId,
        groupInstanceId: overrides.groupInstanceId ?? null,
        generationId: result.generationId,
        protocolType: null,
        protocolName: null,
        assignments: result.memberId === leader ? leaderResult.members.map((member, index) => ({ memberId: member.memberId, assignment: assignment('orders', index) })) : [],
      }),
    ),
  );
  return { generationId: leaderResult.generationId, leader, members, syncs };
}

