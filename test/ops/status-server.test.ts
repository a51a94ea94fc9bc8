// The status server on a free loopback port: / is the page, /status.json the source's snapshot, /metrics its
// families and the process's own, every name sat_..., a family with no sample left out; on loopback only requests
// addressed to loopback are answered; a host written out is served there.
import test from 'ava';
import http from 'node:http';
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

test('a family with no sample is left out of the scrape, not read as 0', async (t) => {
  let reward: number | undefined;
  const families = (): MetricFamily[] => [
    { name: 'reward', help: 'reward', type: 'gauge', samples: reward === undefined ? [] : [{ value: reward }] },
    { name: 'stage', help: 'stage', type: 'gauge', samples: [{ value: 0 }] },
  ];
  const server = await StatusServer.start({
    address: parseHttpAddress(':0'),
    source: { snapshot: () => SNAPSHOT, metrics: families },
  });
  try {
    const metrics = async () => (await fetch(new URL('metrics', server.url))).text();
    const none = await metrics();
    t.notRegex(none, /sat_reward/);
    t.regex(none, /^sat_stage 0$/m);
    reward = 0.5;
    t.regex(await metrics(), /^sat_reward 0\.5$/m);
    reward = undefined; // e.g. the stage log was cleared
    t.notRegex(await metrics(), /sat_reward/);
  } finally {
    await server.stop();
  }
});

/** GET `path` of `url`'s server with `host` as the Host header: the status and the body. */
const getAs = (url: string, host: string, path = '/status.json') =>
  new Promise<{ status: number; body: string }>((resolve, reject) => {
    const { hostname, port } = new URL(url);
    const req = http.get({ hostname, port, path, headers: { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });

test('on loopback, a request addressed to another host is refused (DNS rebinding)', async (t) => {
  const server = await StatusServer.start({
    address: parseHttpAddress(':0'),
    source: { snapshot: () => SNAPSHOT, metrics: () => [] },
  });
  try {
    const { port } = new URL(server.url);
    for (const host of ['evil.example', `evil.example:${port}`, '127.evil.example', `127.0.0.1:${Number(port) + 1}`]) {
      const r = await getAs(server.url, host);
      t.is(r.status, 403, host);
      t.regex(r.body, /^forbidden: [^\n]*\n$/, host);
    }
    t.is((await getAs(server.url, 'evil.example', '/metrics')).status, 403);
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, `LOCALHOST:${port}`]) {
      const r = await getAs(server.url, host);
      t.is(r.status, 200, host);
      t.deepEqual(JSON.parse(r.body), SNAPSHOT);
    }
  } finally {
    await server.stop();
  }
});

test('a host written out is served there, whatever the Host header', async (t) => {
  const source = { snapshot: () => SNAPSHOT, metrics: () => [] };
  const server = await StatusServer.start({ address: parseHttpAddress('0.0.0.0:0'), source });
  try {
    // Every interface: the URL to open names loopback.
    t.regex(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    t.true(server.everyInterface);
    t.is((await getAs(server.url, 'status.example')).status, 200);
  } finally {
    await server.stop();
  }
});

test('a method other than GET and HEAD: 405 with Allow; HEAD answers without a body', async (t) => {
  const server = await StatusServer.start({
    address: parseHttpAddress(':0'),
    source: { snapshot: () => SNAPSHOT, metrics: () => [] },
  });
  try {
    const post = await fetch(new URL('status.json', server.url), { method: 'POST' });
    t.is(post.status, 405);
    t.is(post.headers.get('allow'), 'GET, HEAD');
    t.regex(await post.text(), /only GET and HEAD/);
    const head = await fetch(new URL('status.json', server.url), { method: 'HEAD' });
    t.is(head.status, 200);
    t.is(await head.text(), '');
  } finally {
    await server.stop();
  }
});

test('a busy port is one line saying so', async (t) => {
  const first = await StatusServer.start({
    address: parseHttpAddress(':0'),
    source: { snapshot: () => SNAPSHOT, metrics: () => [] },
  });
  try {
    const port = Number(new URL(first.url).port);
    const err = await t.throwsAsync(
      StatusServer.start({
        address: parseHttpAddress(`:${port}`),
        source: { snapshot: () => SNAPSHOT, metrics: () => [] },
      }),
      { instanceOf: HttpAddressError },
    );
    t.is(
      err?.message,
      `cannot listen on 127.0.0.1:${port}: the port is in use (another process? pick another port with --http, or :0 ` +
        'for any free one)',
    );
  } finally {
    await first.stop();
  }
});

test('--http values: a port alone is 127.0.0.1; a bad one is refused in one line', (t) => {
  t.deepEqual(parseHttpAddress('9100'), { host: '127.0.0.1', port: 9100 });
  t.deepEqual(parseHttpAddress(':0'), { host: '127.0.0.1', port: 0 });
  t.deepEqual(parseHttpAddress('10.0.0.2:80'), { host: '10.0.0.2', port: 80 });
  t.deepEqual(parseHttpAddress('[::1]:9100'), { host: '::1', port: 9100 });
  for (const bad of ['', 'abc', '127.0.0.1', '127.0.0.1:99999', 'example.com:80', 'http://127.0.0.1:80'])
    t.throws(() => parseHttpAddress(bad), { instanceOf: HttpAddressError }, bad);
});
