// The sim's link emulation: a relay delays every byte by the latency each way and, under loss, by a
// retransmission timeout more, yet delivers every byte, in order, and passes each end on.
import test from 'ava';
import net from 'node:net';
import { RTO_MS, ShapedLink, freePort } from '../../sim/link.ts';

/** An echo server on a free port. */
async function echo(): Promise<{ port: number; close: () => Promise<void> }> {
  const port = await freePort();
  const server = net.createServer({ allowHalfOpen: true }, (s) => s.pipe(s));
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** Sends `data` through `port`, ends, and returns what came back and how long the first byte's round trip took. */
async function roundTrip(port: number, data: Buffer): Promise<{ back: Buffer; firstMs: number }> {
  const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await new Promise((resolve) => s.once('connect', resolve));
  const t0 = Date.now();
  let firstMs = -1;
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => {
    if (firstMs < 0) firstMs = Date.now() - t0;
    chunks.push(c);
  });
  s.end(data);
  await new Promise((resolve) => s.once('end', resolve));
  s.destroy();
  return { back: Buffer.concat(chunks), firstMs };
}

test('every byte arrives, in order, a round trip of two latencies late', async (t) => {
  const server = await echo();
  const link = await ShapedLink.open({ host: '127.0.0.1', port: server.port }, { latencyMs: 40, loss: 0 });
  try {
    const data = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) % 251));
    const { back, firstMs } = await roundTrip(link.port, data);
    t.true(back.equals(data));
    t.true(firstMs >= 78, `first byte back after ${firstMs} ms`);
    t.true(firstMs < 78 + 400, `first byte back after ${firstMs} ms`);
  } finally {
    await link.close();
    await server.close();
  }
});

test('under loss every byte still arrives, in order, only later', async (t) => {
  const server = await echo();
  const link = await ShapedLink.open({ host: '127.0.0.1', port: server.port }, { latencyMs: 0, loss: 1 });
  try {
    const data = Buffer.from('every byte, in order');
    const { back, firstMs } = await roundTrip(link.port, data);
    t.is(back.toString(), data.toString());
    t.true(firstMs >= 2 * RTO_MS - 2, `with every packet lost once, the round trip took ${firstMs} ms`);
  } finally {
    await link.close();
    await server.close();
  }
});
