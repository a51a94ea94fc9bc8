// The Prometheus side of the operator's view (docs/design §7): a prom-client registry with the process's
// memory and event-loop delay, and the source's metric families, read at each scrape. Every name starts
// with `sat_`.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { MetricFamily } from './status-snapshot.ts';

export const PREFIX = 'sat_';

/** A registry with the default process metrics (memory, event-loop lag, ...), named `sat_...`. */
export function newRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: PREFIX });
  return registry;
}

/** The metric of `f` in `registry`, made on first sight. */
function metricOf(registry: Registry, f: MetricFamily): Counter | Gauge {
  const name = `${PREFIX}${f.name}`;
  const have = registry.getSingleMetric(name);
  if (have) return have as Counter | Gauge;
  const config = { name, help: f.help, labelNames: [...(f.labels ?? [])], registers: [registry] };
  return f.type === 'counter' ? new Counter(config) : new Gauge(config);
}

/**
 * Sets the registry's metrics to `families` as they are now (a counter's total is its sample). A family with no
 * sample now is left out of the registry, so that no data yet never reads as 0.
 */
export function updateMetrics(registry: Registry, families: readonly MetricFamily[]): void {
  for (const f of families) {
    const samples = f.samples.filter(({ value }) => Number.isFinite(value));
    if (!samples.length) {
      registry.removeSingleMetric(`${PREFIX}${f.name}`);
      continue;
    }
    const metric = metricOf(registry, f);
    metric.reset();
    for (const { labels = {}, value } of samples) {
      if (metric instanceof Counter) metric.inc(labels, Math.max(0, value));
      else metric.set(labels, value);
    }
  }
}

/** The registry's text exposition after reading `families`. */
export async function scrape(registry: Registry, families: readonly MetricFamily[]): Promise<string> {
  updateMetrics(registry, families);
  return registry.metrics();
}
