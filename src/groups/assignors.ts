/**
 * Server-side assignors of KIP-848 consumer groups: the broker, not a group leader, decides which
 * member gets which partition. A member names the one it wants in ConsumerGroupHeartbeat's
 * ServerAssignor; the group uses the one most of its members name (`uniform` when none does).
 *
 *   uniform  balanced and sticky: partitions stay with the member that had them in the previous
 *            target assignment while that keeps the counts balanced (every member within one
 *            partition of every other when all subscribe to the same topics; for different
 *            subscriptions the spread is greedy, each partition going to the least loaded member
 *            subscribed to its topic). Kafka's default.
 *   range    per topic, the members subscribed to it, sorted by member id, each take a contiguous
 *            range of partitions, the first ones one more when the count does not divide evenly;
 *            members subscribed to the same co-partitioned topics get the same partition numbers.
 *
 * Pure functions: subscriptions and topic sizes in, a target assignment out. A partition of a topic
 * nobody subscribes to, or that does not exist, is never assigned.
 */

/** topic name → partition indexes. */
export type TopicAssignment = Map<string, Set<number>>;

export interface AssignorMember {
  readonly memberId: string;
  readonly subscribedTopics: readonly string[];
}

export interface AssignorInput {
  /** Members in a stable order (member id). */
  readonly members: readonly AssignorMember[];
  /** Partition count of each subscribed topic that exists. */
  readonly partitionCounts: ReadonlyMap<string, number>;
  /** The previous target assignment, for stickiness (member id → topic → partitions). */
  readonly previous: ReadonlyMap<string, TopicAssignment>;
}

export type Assignor = (input: AssignorInput) => Map<string, TopicAssignment>;

export const defaultAssignorName = 'uniform';

export const assignors: ReadonlyMap<string, Assignor> = new Map<string, Assignor>([
  ['uniform', uniformAssignor],
  ['range', rangeAssignor],
]);

function emptyAssignment(members: readonly AssignorMember[]): Map<string, TopicAssignment> {
  return new Map(members.map((member) => [member.memberId, new Map()]));
}

function add(assignment: TopicAssignment, topic: string, partition: number): void {
  let partitions = assignment.get(topic);
  if (partitions === undefined) assignment.set(topic, (partitions = new Set()));
  partitions.add(partition);
}

export function countPartitions(assignment: TopicAssignment): number {
  let count = 0;
  for (const partitions of assignment.values()) count += partitions.size;
  return count;
}

export function rangeAssignor({ members, partitionCounts }: AssignorInput): Map<string, TopicAssignment> {
  const result = emptyAssignment(members);
  const sorted = [...members].sort((left, right) => (left.memberId < right.memberId ? -1 : left.memberId > right.memberId ? 1 : 0));
  for (const [topic, partitionCount] of [...partitionCounts].sort(([left], [right]) => (left < right ? -1 : 1))) {
    const subscribers = sorted.filter((member) => member.subscribedTopics.includes(topic));
    if (subscribers.length === 0) continue;
    const base = Math.floor(partitionCount / subscribers.length);
    const extra = partitionCount % subscribers.length;
    let next = 0;
    subscribers.forEach((member, index) => {
      const take = base + (index < extra ? 1 : 0);
      for (let partition = next; partition < next + take; partition++) add(result.get(member.memberId)!, topic, partition);
      next += take;
    });
  }
  return result;
}

export function uniformAssignor({ members, partitionCounts, previous }: AssignorInput): Map<string, TopicAssignment> {
  const result = emptyAssignment(members);
  const subscribersOf = new Map<string, AssignorMember[]>();
  for (const member of members) {
    for (const topic of new Set(member.subscribedTopics)) {
      if (!partitionCounts.has(topic)) continue;
      let list = subscribersOf.get(topic);
      if (list === undefined) subscribersOf.set(topic, (list = []));
      list.push(member);
    }
  }
  const counts = new Map<string, number>(members.map((member) => [member.memberId, 0]));
  let total = 0;
  for (const topic of subscribersOf.keys()) total += partitionCounts.get(topic)!;
  const assigningMembers = members.filter((member) => member.subscribedTopics.some((topic) => subscribersOf.has(topic)));
  const minimumQuota = assigningMembers.length === 0 ? 0 : Math.floor(total / assigningMembers.length);
  let extraSlots = assigningMembers.length === 0 ? 0 : total % assigningMembers.length;

  // 1. Keep what each member had, up to its quota (one more for the first members over the minimum).
  const taken = new Set<string>();
  for (const member of assigningMembers) {
    const kept: Array<[string, number]> = [];
    for (const [topic, partitions] of previous.get(member.memberId) ?? []) {
      const partitionCount = partitionCounts.get(topic);
      if (partitionCount === undefined || !member.subscribedTopics.includes(topic)) continue;
      for (const partition of [...partitions].sort((left, right) => left - right)) {
        if (partition < partitionCount && !taken.has(key(topic, partition))) kept.push([topic, partition]);
      }
    }
    let quota = minimumQuota;
    if (kept.length > minimumQuota && extraSlots > 0) {
      quota++;
      extraSlots--;
    }
    for (const [topic, partition] of kept.slice(0, quota)) {
      add(result.get(member.memberId)!, topic, partition);
      taken.add(key(topic, partition));
      counts.set(member.memberId, counts.get(member.memberId)! + 1);
    }
  }

  // 2. Every partition not kept goes to the least loaded member subscribed to its topic.
  for (const topic of [...subscribersOf.keys()].sort()) {
    const subscribers = subscribersOf.get(topic)!;
    const partitionCount = partitionCounts.get(topic)!;
    for (let partition = 0; partition < partitionCount; partition++) {
      if (taken.has(key(topic, partition))) continue;
      let best = subscribers[0]!;
      for (const candidate of subscribers) if (counts.get(candidate.memberId)! < counts.get(best.memberId)!) best = candidate;
      add(result.get(best.memberId)!, topic, partition);
      counts.set(best.memberId, counts.get(best.memberId)! + 1);
    }
  }
  return result;
}

function key(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}
