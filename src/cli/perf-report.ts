/**
 * How `osprey perf` reports latency, shared by the Kafka (perf-command.ts) and AMQP
 * (perf-amqp-command.ts) load generators: the JSON object and the one-line text form.
 */
import type { LatencySummary } from '../perf/latency-histogram.js';
import { formatMs } from './output.js';

export function latencyJson(summary: LatencySummary | null): Record<string, number> | null {
  if (summary === null || summary.count === 0) return null;
  return { count: summary.count, min: summary.minMs, mean: summary.meanMs, p50: summary.p50Ms, p95: summary.p95Ms, p99: summary.p99Ms, p999: summary.p999Ms, max: summary.maxMs };
}

export function latencyLine(summary: LatencySummary): string {
  return `p50 ${formatMs(summary.p50Ms)}  p95 ${formatMs(summary.p95Ms)}  p99 ${formatMs(summary.p99Ms)}  p99.9 ${formatMs(summary.p999Ms)}  max ${formatMs(summary.maxMs)}  (mean ${formatMs(summary.meanMs)})`;
}
