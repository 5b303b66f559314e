/**
 * Broker metrics in Prometheus's text exposition format (served by server/http at /metrics).
 *
 *     # HELP osprey_connection_errors_total Connections closed because a request handler threw.
 *     # TYPE osprey_connection_errors_total counter
 *     osprey_connection_errors_total{api="Produce"} 3
 *
 * Counters only go up; gauges are read when scraped, from a callback, so no code on a hot path
 * keeps a gauge up to date. Label values come from a small, known set (API names, topic and
 * partition), never from raw client input, so the number of series stays bounded.
 */
export type Labels = Readonly<Record<string, string | number>>;

interface Sample {
  readonly labels: Labels;
  readonly value: number;
}

interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge';
  samples(): Iterable<Sample>;
}

export class Counter {
  private readonly values = new Map<string, { labels: Labels; value: number }>();

  constructor(readonly name: string, readonly help: string) {}

  inc(labels: Labels = {}, by = 1): void {
    const key = labelKey(labels);
    const entry = this.values.get(key);
    if (entry === undefined) this.values.set(key, { labels, value: by });
    else entry.value += by;
  }

  /** The current value for these labels (0 when never counted). */
  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels))?.value ?? 0;
  }

  samples(): Iterable<Sample> {
    return this.values.values();
  }
}

export class Metrics {
  private readonly families = new Map<string, Family>();
  private readonly counters = new Map<string, Counter>();

  /** A counter, created on first use; the same name always gives the same counter. */
  counter(name: string, help: string): Counter {
    const existing = this.counters.get(name);
    if (existing !== undefined) return existing;
    if (this.families.has(name)) throw new Error(`metric ${name} is already registered as a gauge`);
    const counter = new Counter(name, help);
    this.counters.set(name, counter);
    this.families.set(name, { name, help, type: 'counter', samples: () => counter.samples() });
    return counter;
  }

  /** A gauge whose samples are read from `read` at every scrape. */
  gauge(name: string, help: string, read: () => Iterable<Sample> | number): void {
    if (this.families.has(name)) throw new Error(`metric ${name} is registered twice`);
    const samples = (): Iterable<Sample> => {
      const value = read();
      return typeof value === 'number' ? [{ labels: {}, value }] : value;
    };
    this.families.set(name, { name, help, type: 'gauge', samples });
  }

  /** Every metric in Prometheus text format 0.0.4. */
  render(): string {
    let text = '';
    for (const family of this.families.values()) {
      text += `# HELP ${family.name} ${family.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n`;
      text += `# TYPE ${family.name} ${family.type}\n`;
      for (const sample of family.samples()) text += `${family.name}${formatLabels(sample.labels)} ${formatNumber(sample.value)}\n`;
    }
    return text;
  }
}

function labelKey(labels: Labels): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function formatLabels(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return '';
  const escaped = entries.map(([name, value]) => `${name}="${String(value).replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')}"`);
  return `{${escaped.join(',')}}`;
}

function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}
