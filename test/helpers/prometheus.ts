import parsePrometheusTextFormat, { type MetricFamily } from 'parse-prometheus-text-format';
import { expect } from 'vitest';

export type { MetricFamily } from 'parse-prometheus-text-format';

/**
 * `GET /metrics`, checked to be Prometheus text format 0.0.4 and parsed with a real text-format parser
 * (`parse-prometheus-text-format`, a port of the Prometheus Python client's parser).
 */
export async function scrape(url: string, headers: Record<string, string> = {}): Promise<MetricFamily[]> {
  const response = await fetch(`${url}/metrics`, { headers });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheusTextFormat(await response.text());
}

/**
 * The `_count` of a labelled histogram, read from the text (the parser folds a histogram's labelled series
 * into one and drops their counts): the sum over the series whose labels include `labels`.
 */
export function histogramCount(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  let total: number | undefined;
  for (const [, labelText, value] of text.matchAll(new RegExp(`^${name}_count\\{([^}]*)\\} (\\S+)$`, 'gm'))) {
    const found = Object.fromEntries([...labelText!.matchAll(/([a-z_]+)="([^"]*)"/g)].map(([, key, item]) => [key!, item!]));
    if (Object.entries(labels).every(([key, item]) => found[key] === item)) total = (total ?? 0) + Number(value);
  }
  return total;
}

/** The value of the sample of `name` whose labels include `labels` (summed when several match); undefined when none does. */
export function sample(families: readonly MetricFamily[], name: string, labels: Record<string, string> = {}): number | undefined {
  const family = families.find((candidate) => candidate.name === name);
  if (!family) return undefined;
  const matching = family.metrics.filter((metric) => Object.entries(labels).every(([key, value]) => metric.labels?.[key] === value));
  if (matching.length === 0) return undefined;
  return matching.reduce((sum, metric) => sum + Number(family.type === 'HISTOGRAM' ? metric.count : metric.value), 0);
}
