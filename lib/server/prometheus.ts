/**
 * A minimal Prometheus registry: labelled counters, gauges and histograms, rendered in the text exposition
 * format (version 0.0.4). Enough for one server's metrics without another dependency.
 */

export type Labels = Readonly<Record<string, string>>;

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatLabels(labels: Labels, extra?: [string, string]): string {
  const pairs = Object.entries(labels);
  if (extra) pairs.push(extra);
  if (pairs.length === 0) return '';
  return `{${pairs.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`;
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

const keyOf = (labels: Labels) => JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));

export abstract class Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge' | 'histogram',
  ) {}

  render(): string {
    return [`# HELP ${this.name} ${this.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${this.name} ${this.type}`, ...this.lines()].join('\n');
  }

  protected abstract lines(): string[];
}

/** Values by label set; a counter only goes up, a gauge is set. */
class ValueMetric extends Metric {
  readonly #values = new Map<string, { labels: Labels; value: number }>();

  protected add(labels: Labels, delta: number): void {
    const key = keyOf(labels);
    const entry = this.#values.get(key);
    if (entry) entry.value += delta;
    else this.#values.set(key, { labels, value: delta });
  }

  protected put(labels: Labels, value: number): void {
    this.#values.set(keyOf(labels), { labels, value });
  }

  /** Forgets every label set (a gauge recomputed on each scrape). */
  reset(): void {
    this.#values.clear();
  }

  protected lines(): string[] {
    return [...this.#values.values()].map(({ labels, value }) => `${this.name}${formatLabels(labels)} ${formatValue(value)}`);
  }
}

export class Counter extends ValueMetric {
  constructor(name: string, help: string) {
    super(name, help, 'counter');
  }

  inc(labels: Labels = {}, value = 1): void {
    this.add(labels, value);
  }

  /** Sets a counter that another component keeps (e.g. the engine's token count). */
  setTotal(labels: Labels, value: number): void {
    this.put(labels, value);
  }
}

export class Gauge extends ValueMetric {
  constructor(name: string, help: string) {
    super(name, help, 'gauge');
  }

  set(labels: Labels, value: number): void {
    this.put(labels, value);
  }
}

export class Histogram extends Metric {
  readonly #buckets: number[];
  readonly #series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();

  /** `buckets`: upper bounds in increasing order (+Inf is added). */
  constructor(name: string, help: string, buckets: number[]) {
    super(name, help, 'histogram');
    this.#buckets = [...buckets].sort((a, b) => a - b);
  }

  observe(labels: Labels, value: number): void {
    const key = keyOf(labels);
    let series = this.#series.get(key);
    if (!series) {
      series = { labels, counts: this.#buckets.map(() => 0), sum: 0, count: 0 };
      this.#series.set(key, series);
    }
    this.#buckets.forEach((bound, i) => {
      if (value <= bound) (series.counts[i] as number)++;
    });
    series.sum += value;
    series.count += 1;
  }

  protected lines(): string[] {
    const lines: string[] = [];
    for (const { labels, counts, sum, count } of this.#series.values()) {
      this.#buckets.forEach((bound, i) => {
        lines.push(`${this.name}_bucket${formatLabels(labels, ['le', formatValue(bound)])} ${counts[i]}`);
      });
      lines.push(`${this.name}_bucket${formatLabels(labels, ['le', '+Inf'])} ${count}`);
      lines.push(`${this.name}_sum${formatLabels(labels)} ${formatValue(sum)}`);
      lines.push(`${this.name}_count${formatLabels(labels)} ${count}`);
    }
    return lines;
  }
}

export function renderMetrics(metrics: readonly Metric[]): string {
  return `${metrics.map((m) => m.render()).join('\n')}\n`;
}
