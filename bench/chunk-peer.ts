// A helper process of bench/chunks.ts, so that each peer runs in its own process as on a real network.
//   serve <store dir>     a libp2p host serving the store on /sat/chunks/1; prints {"peerId","addresses"},
//                         then its server's counters and exits when its stdin closes
//   tcp <file> <port>     sends the file's bytes over one plain TCP socket to 127.0.0.1:<port>, then exits
import fs from 'node:fs';
import net from 'node:net';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { ChunkServer } from '../node/protocol/chunk-server.ts';
import { ChunkStore } from '../node/protocol/chunk-store.ts';
import { PeerHost } from '../node/protocol/host.ts';

const [mode, ...args] = process.argv.slice(2);

if (mode === 'serve') {
  const host = await PeerHost.start({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] });
  const server = new ChunkServer(host.libp2p, await ChunkStore.open(args[0]));
  await server.start();
  process.stdout.write(`${JSON.stringify({ peerId: host.peerId.toString(), addresses: host.addresses })}\n`);
  process.stdin.resume();
  process.stdin.on('end', async () => {
    const { served, bytes, missing, failed } = server.counters;
    const cpu = process.cpuUsage();
    process.stdout.write(
      `${JSON.stringify({ served, bytes, missing, failed, cpu_s: (cpu.user + cpu.system) / 1e6 })}\n`,
    );
    await host.stop();
    process.exit(0);
  });
} else if (mode === 'tcp') {
  const socket = net.connect(Number(args[1]), '127.0.0.1', () => {
    fs.createReadStream(args[0], { highWaterMark: 1024 * 1024 }).pipe(socket);
  });
  socket.on('close', () => process.exit(0));
} else {
  process.stderr.write('usage: chunk-peer.ts serve <store dir> | tcp <file> <port>\n');
  process.exit(2);
}
