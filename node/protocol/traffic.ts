// Bytes in and out by protocol (docs/design §7): a libp2p metrics component that counts what each negotiated
// stream carries (gossipsub's, the DHT's and ours), and no more. libp2p hands it every protocol stream once
// negotiated; the other metrics its services would register are accepted and dropped.
import type { Metrics, MultiaddrConnection, Stream } from '@libp2p/interface';
import { bump } from './counters.ts';

/** Bytes carried so far, by protocol id (bounded: counters.ts). */
export interface Traffic {
  bytesIn: Map<string, number>;
  bytesOut: Map<string, number>;
}

export const newTraffic = (): Traffic => ({ bytesIn: new Map(), bytesOut: new Map() });

type Bytes = { byteLength: number };

/**
 * Counts a negotiated stream's bytes: what the muxer delivers to it (its `onData`), what it sends (its `send`). A
 * stream without both, as another libp2p version may make, is left as it is and not counted: a throw here would
 * abort it.
 */
export function trackStream(traffic: Traffic, stream: Stream): void {
  const protocol = stream.protocol ?? 'unknown';
  const s = stream as unknown as { onData?: unknown; send?: unknown };
  if (typeof s.onData !== 'function' || typeof s.send !== 'function') return;
  const onData = (s.onData as (data: Bytes) => void).bind(stream);
  const send = (s.send as (data: Bytes) => boolean).bind(stream);
  s.onData = (data: Bytes) => {
    bump(traffic.bytesIn, protocol, data.byteLength);
    onData(data);
  };
  s.send = (data: Bytes) => {
    bump(traffic.bytesOut, protocol, data.byteLength);
    return send(data);
  };
}

const noop = () => {};
/**
 * Whatever a service asks of it: every method does nothing and answers another of itself. It is no thenable (`then`
 * is undefined, so awaiting it settles at once) and has no symbol-keyed properties (no iterator, no conversion).
 */
const inert: unknown = new Proxy(noop, {
  get: (_, key) => (key === 'then' || typeof key === 'symbol' ? undefined : inert),
  apply: () => inert,
});

/** The `metrics` option of createLibp2p: counts `traffic`, ignores the rest. */
export function trafficMetrics(traffic: Traffic): () => Metrics {
  return () =>
    ({
      trackMultiaddrConnection: (_: MultiaddrConnection) => {},
      trackProtocolStream: (stream: Stream) => trackStream(traffic, stream),
      registerMetric: () => inert,
      registerMetricGroup: () => inert,
      registerCounter: () => inert,
      registerCounterGroup: () => inert,
      registerHistogram: () => inert,
      registerHistogramGroup: () => inert,
      registerSummary: () => inert,
      registerSummaryGroup: () => inert,
      traceFunction: <F>(_: string, fn: F) => fn,
      createTrace: () => undefined,
    }) as unknown as Metrics;
}
