// Serving a status with a data dir: when the file naming the page cannot be written there, the server that was
// listening is stopped (its port is free again) and the error comes through.
import test from 'ava';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { serveStatus } from '../../node/ops/serve-status.ts';
import type { StatusSnapshot } from '../../node/ops/status-snapshot.ts';
import { tempDir } from '../temp-dir.ts';

const SNAPSHOT: StatusSnapshot = {
  role: 'peer',
  peerId: '12D3KooWtest',
  stage: 0,
  stagesDone: 0,
  roster: [],
  stages: [],
  connections: 0,
  errors: [],
  time: 1,
};

/** Listens on `port` of 127.0.0.1 and closes again; whether that could be done. */
const listenable = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });

test('a status file that cannot be written stops the server it was for', async (t) => {
  const dir = tempDir('sat-serve-status-');
  const notADir = path.join(dir, 'file');
  fs.writeFileSync(notADir, 'a file where the data dir should be');
  const port = await freePort();
  const source = { snapshot: () => SNAPSHOT, metrics: () => [] };
  await t.throwsAsync(serveStatus(`127.0.0.1:${port}`, source, notADir));
  t.true(await listenable(port), 'the port is free again');
});

test('with a writable data dir the page is named there until stopped', async (t) => {
  const dir = tempDir('sat-serve-status-');
  const served = await serveStatus(':0', { snapshot: () => SNAPSHOT, metrics: () => [] }, dir);
  t.is(JSON.parse(fs.readFileSync(path.join(dir, 'status.json'), 'utf8')).url, served.url);
  await served.stop();
  t.false(fs.existsSync(path.join(dir, 'status.json')));
});

test('a page announced later is named in that data dir from then until stopped', async (t) => {
  const dir = tempDir('sat-serve-status-');
  const served = await serveStatus(':0', { snapshot: () => SNAPSHOT, metrics: () => [] });
  try {
    t.false(fs.existsSync(path.join(dir, 'status.json')));
    served.announce(dir);
    t.is(JSON.parse(fs.readFileSync(path.join(dir, 'status.json'), 'utf8')).url, served.url);
  } finally {
    await served.stop();
  }
  t.false(fs.existsSync(path.join(dir, 'status.json')));
});

test('served on every interface: a loopback URL to open, and where says so', async (t) => {
  const served = await serveStatus('0.0.0.0:0', { snapshot: () => SNAPSHOT, metrics: () => [] });
  try {
    t.regex(served.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    t.is(served.where, `${served.url} (served on every interface)`);
    t.is((await fetch(new URL('status.json', served.url))).status, 200);
  } finally {
    await served.stop();
  }
  const loopback = await serveStatus(':0', { snapshot: () => SNAPSHOT, metrics: () => [] });
  t.is(loopback.where, loopback.url);
  await loopback.stop();
});
