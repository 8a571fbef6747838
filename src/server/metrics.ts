/**
 * A small Prometheus registry: labelled counters, latency histograms and gauges read through
 * callbacks at scrape time. `render()` gives the text exposition format (version 0.0.4).
 */

type Labels = Record<string, string>;

const latencyBucketsSeconds = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

function labelKey(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return '';
  return '{' + keys.map((k) => `${k}="${String(labels[k]).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',') + '}';
}

interface Histogram {
  counts: number[];
  sum: number;
  count: number;
}

export class Metrics {
  private readonly counters = new Map<string, { help: string; values: Map<string, number> }>();
  private readonly histograms = new Map<string, { help: string; values: Map<string, Histogram> }>();
  private readonly gauges = new Map<string, { help: string; read: () => number | Record<string, number> }>();

  /** Add `by` to counter `name` with `labels`. */
  inc(name: string, help: string, labels: Labels = {}, by = 1): void {
    let c = this.counters.get(name);
    if (!c) this.counters.set(name, (c = { help, values: new Map() }));
    const k = labelKey(labels);
    c.values.set(k, (c.values.get(k) ?? 0) + by);
  }

  /** Record one observation of `seconds` in histogram `name`. */
  observe(name: string, help: string, labels: Labels, seconds: number): void {
    let h = this.histograms.get(name);
    if (!h) this.histograms.set(name, (h = { help, values: new Map() }));
    const k = labelKey(labels);
    let v = h.values.get(k);
    if (!v) h.values.set(k, (v = { counts: new Array<number>(latencyBucketsSeconds.length).fill(0), sum: 0, count: 0 }));
    for (let i = 0; i < latencyBucketsSeconds.length; i++) if (seconds <= latencyBucketsSeconds[i]!) v.counts[i]!++;
    v.sum += seconds;
    v.count++;
  }

  /** Counter `name` with fixed `labels`, bound once: calling it adds `by` (no label formatting per call). */
  counterSeries(name: string, help: string, labels: Labels): (by: number) => void {
    let c = this.counters.get(name);
    if (!c) this.counters.set(name, (c = { help, values: new Map() }));
    const values = c.values;
    const k = labelKey(labels);
    return (by) => {
      values.set(k, (values.get(k) ?? 0) + by);
    };
  }

  /** Histogram `name` with fixed `labels`, bound once: calling it records one observation. */
  histogramSeries(name: string, help: string, labels: Labels): (seconds: number) => void {
    let h = this.histograms.get(name);
    if (!h) this.histograms.set(name, (h = { help, values: new Map() }));
    const values = h.values;
    const k = labelKey(labels);
    return (seconds) => {
      let v = values.get(k);
      if (!v) values.set(k, (v = { counts: new Array<number>(latencyBucketsSeconds.length).fill(0), sum: 0, count: 0 }));
      for (let i = 0; i < latencyBucketsSeconds.length; i++) if (seconds <= latencyBucketsSeconds[i]!) v.counts[i]!++;
      v.sum += seconds;
      v.count++;
    };
  }

  /** Register a gauge read at scrape time; a record return value gives one series per `key` label. */
  gauge(name: string, help: string, read: () => number | Record<string, number>): void {
    this.gauges.set(name, { help, read });
  }

  /** Current value of a counter series (for tests and the console). */
  counter(name: string, labels: Labels = {}): number {
    return this.counters.get(name)?.values.get(labelKey(labels)) ?? 0;
  }

  render(): string {
    const out: string[] = [];
    for (const [name, c] of this.counters) {
      out.push(`# HELP ${name} ${c.help}`, `# TYPE ${name} counter`);
      for (const [k, v] of c.values) out.push(`${name}${k} ${v}`);
    }
    for (const [name, h] of this.histograms) {
      out.push(`# HELP ${name} ${h.help}`, `# TYPE ${name} histogram`);
      for (const [k, v] of h.values) {
        const inner = k ? k.slice(1, -1) + ',' : '';
        latencyBucketsSeconds.forEach((b, i) => out.push(`${name}_bucket{${inner}le="${b}"} ${v.counts[i]}`));
        out.push(`${name}_bucket{${inner}le="+Inf"} ${v.count}`, `${name}_sum${k} ${v.sum}`, `${name}_count${k} ${v.count}`);
      }
    }
    for (const [name, g] of this.gauges) {
      let value: number | Record<string, number>;
      try {
        value = g.read();
      } catch {
        continue;
      }
      out.push(`# HELP ${name} ${g.help}`, `# TYPE ${name} gauge`);
      if (typeof value === 'number') out.push(`${name} ${value}`);
      else for (const [key, v] of Object.entries(value)) out.push(`${name}${labelKey({ key })} ${v}`);
    }
    return out.join('\n') + '\n';
  }
}
