// Bytes in and out by protocol (docs/design §7): a libp2p metrics component that counts what each negotiated
// stream carries (gossipsub's, the DHT's and ours), and no more. libp2p hands it every protocol stream once
// negotiated; the other metrics its services would register are accepted and dropped.
import type { Metrics, MultiaddrConnection, Stream } from '@libp2p/interface';
import { MAX_COUNTER_KEYS } from './counters.ts';

/** Bytes carried so far, by protocol id (bounded: counters.ts). */
export interface Traffic {
  bytesIn: Map<string, number>;
  bytesOut: Map<string, number>;
}

export const newTraffic = (): Traffic => ({ bytesIn: new Map(), bytesOut: new Map() });

/** Adds `n` to `key` of a bounded counter map. */
function add(map: Map<string, number>, key: string, n: number): void {
  const k = map.has(key) || map.size < MAX_COUNTER_KEYS - 1 ? key : 'other';
  map.set(k, (map.get(k) ?? 0) + n);
}

type Bytes = { byteLength: number };

/** Counts a negotiated stream's bytes: what the muxer delivers to it, what it sends. */
export function trackStream(traffic: Traffic, stream: Stream): void {
  const protocol = stream.protocol ?? 'unknown';
  const s = stream as unknown as { onData: (data: Bytes) => void; send: (data: Bytes) => boolean };
  const onData = s.onData.bind(stream);
  const send = s.send.bind(stream);
  s.onData = (data) => {
    add(traffic.bytesIn, protocol, data.byteLength);
    onData(data);
  };
  s.send = (data) => {
    add(traffic.bytesOut, protocol, data.byteLength);
    return send(data);
  };
}

const noop = () => {};
/** Whatever a service asks of it: every method does nothing and answers another of itself. */
const inert: unknown = new Proxy(noop, { get: () => inert, apply: () => inert });

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
