// `sat-bootstrap`: the long-running peer that public teams start from — a DHT server and circuit relay
// with a persistent identity, printing the multiaddrs to hand to `sat-peer start --bootstrap`.
// SIGINT or SIGTERM stops it cleanly.
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PeerHost } from '../node/protocol/host.ts';
import { loadOrCreateIdentity } from '../node/protocol/identity.ts';

const HELP = `sat-bootstrap: a bootstrap and relay peer for sat-peer teams

Usage: sat-bootstrap [--listen <multiaddr>]... [--announce <multiaddr>]... [--data-dir <dir>] [--json]

  --listen <multiaddr>    where to listen (default /ip4/0.0.0.0/tcp/4001); repeat for more
  --announce <multiaddr>  the public address to advertise (behind a port forward); repeat for more
  --data-dir <dir>        where its identity key lives (default ~/.sat-bootstrap)
  --json                  print {"peerId", "addresses"} as one JSON line instead of text
  -h, --help              show this help
`;

/** Runs the bootstrap peer until a signal; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const options = {
    listen: { type: 'string', multiple: true },
    announce: { type: 'string', multiple: true },
    'data-dir': { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  } as const;
  let values: ReturnType<typeof parseArgs<{ args: string[]; options: typeof options }>>['values'];
  try {
    ({ values } = parseArgs({ args: argv, options }));
  } catch (err) {
    process.stderr.write(`sat-bootstrap: ${(err as Error).message} (see sat-bootstrap --help)\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  let host: PeerHost;
  try {
    const { privateKey } = await loadOrCreateIdentity(values['data-dir'] ?? path.join(os.homedir(), '.sat-bootstrap'));
    host = await PeerHost.start({
      privateKey,
      listen: values.listen ?? ['/ip4/0.0.0.0/tcp/4001'],
      announce: values.announce ?? [],
      server: true,
    });
  } catch (err) {
    const e = err as Error;
    process.stderr.write(
      `sat-bootstrap: ${['IdentityError', 'HostConfigError'].includes(e.name) ? '' : 'cannot start: '}${e.message}\n`,
    );
    return 2;
  }
  // Listen for the signals before saying it is up: whoever reads that line may signal at once.
  const stopped = new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  const addresses = host.addresses;
  if (values.json) process.stdout.write(`${JSON.stringify({ peerId: host.peerId.toString(), addresses })}\n`);
  else
    process.stdout.write(
      `sat-bootstrap ${host.peerId} is up; give peers one of:\n${addresses.map((a) => `  --bootstrap ${a}`).join('\n')}\n`,
    );
  await stopped;
  await host.stop();
  return 0;
}
