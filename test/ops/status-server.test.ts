// The status server on a free loopback port: / is the page, /status.json the source's snapshot, /metrics its
// families and the process's own, every name sat_...; a public host needs writing out.
import test from 'ava';
import { HttpAddressError } from '../../node/ops/errors.ts';
import { parseHttpAddress } from '../../node/ops/http-address.ts';
import { StatusServer } from '../../node/ops/status-server.ts';
import type { MetricFamily, StatusSnapshot } from '../../node/ops/status-snapshot.ts';

const SNAPSHOT: StatusSnapshot = {
  role: 'peer',
  peerId: '12D3KooWtest',
  stage: 3,
  stagesDone: 2,
  roster: [{ slot: 0, peer: '…abc', self: true, claimAgeS: 5, heartbeatAgeS: 1, stage: 3 }],
  stages: [{ stage: 1, accuracy: 0.25, reward: 0.5, time: { rollout: 1, update: 2 }, seconds: 3 }],
  connections: 1,
  errors: [],
  time: 1,
};

test('serves the page, the snapshot and metrics that follow their counters', async (t) => {
  const rejected = new Map([['malformed', 1]]);
  const families = (): MetricFamily[] => [
    {
      name: 'rejected_messages_total',
      help: 'refused',
      type: 'counter',
      labels: ['source', 'reason'],
      samples: [...rejected].map(([reason, value]) => ({ labels: { source: 'claims', reason }, value })),
    },
    { name: 'stage', help: 'stage', type: 'gauge', samples: [{ value: 3 }] },
  ];
  const server = await StatusServer.start({
    address: parseHttpAddress(':0'),
    source: { snapshot: () => SNAPSHOT, metrics: families },
  });
  try {
    t.regex(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await fetch(server.url);
    t.regex(page.headers.get('content-type') ?? '', /text\/html/);
    const html = await page.text();
    t.regex(html, /<svg id="chart"/);
    t.notRegex(html, /<script[^>]+src=|<link[^>]+href=/, 'no outside scripts or styles');
    t.deepEqual(await (await fetch(new URL('status.json', server.url))).json(), SNAPSHOT);

    const metrics = async () => (await fetch(new URL('metrics', server.url))).text();
    const first = await metrics();
    t.regex(first, /^sat_rejected_messages_total\{source="claims",reason="malformed"\} 1$/m);
    t.regex(first, /^sat_stage 3$/m);
    t.regex(first, /^sat_process_resident_memory_bytes \d+/m, 'process memory');
    t.regex(first, /^sat_nodejs_eventloop_lag_seconds /m, 'event-loop delay');
    const names = [...first.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]);
    t.true(names.length > 10 && names.every((n) => n.startsWith('sat_')), names.join(' '));
    rejected.set('malformed', 4);
    rejected.set('too-large', 1);
    const second = await metrics();
    t.regex(second, /^sat_rejected_messages_total\{source="claims",reason="malformed"\} 4$/m);
    t.regex(second, /^sat_rejected_messages_total\{source="claims",reason="too-large"\} 1$/m);
    t.is((await fetch(new URL('nothing', server.url))).status, 404);
  } finally {
    await server.stop();
  }
});

test('a public host is served only when written out', async (t) => {
  const source = { snapshot: () => SNAPSHOT, metrics: () => [] };
  const err = await t.throwsAsync(
    StatusServer.start({ address: { host: '0.0.0.0', port: 0, explicit: false }, source }),
  );
  t.is(err?.name, 'HttpAddressError');
  t.regex(err?.message ?? '', /--http 0\.0\.0\.0:0/);
  const server = await StatusServer.start({ address: parseHttpAddress('0.0.0.0:0'), source });
  t.regex(server.url, /^http:\/\/0\.0\.0\.0:\d+\/$/);
  await server.stop();
});

test('--http values: a port alone is loopback; a bad one is refused in one line', (t) => {
  t.deepEqual(parseHttpAddress('9100'), { host: '127.0.0.1', port: 9100, explicit: false });
  t.deepEqual(parseHttpAddress(':0'), { host: '127.0.0.1', port: 0, explicit: false });
  t.deepEqual(parseHttpAddress('10.0.0.2:80'), { host: '10.0.0.2', port: 80, explicit: true });
  t.deepEqual(parseHttpAddress('[::1]:9100'), { host: '::1', port: 9100, explicit: true });
  for (const bad of ['', 'abc', '127.0.0.1', '127.0.0.1:99999', 'example.com:80', 'http://127.0.0.1:80'])
    t.throws(() => parseHttpAddress(bad), { instanceOf: HttpAddressError }, bad);
});
