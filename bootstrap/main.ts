// `sat-bootstrap`: the long-running peer that public teams start from — a DHT server and circuit relay
// with a persistent identity, printing the multiaddrs to hand to `sat-peer start --bootstrap`, then a line
// for each peer that connects or goes (peer-log.ts).
// SIGINT or SIGTERM stops it cleanly, with a line saying so and exit code 128 + the signal's number.
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PeerHost } from '../node/protocol/host.ts';
import { loadOrCreateIdentity } from '../node/protocol/identity.ts';
import { editDistance } from '../node/config/unknown-keys.ts';
import { packageVersion } from '../node/util/version.ts';
import { logPeers } from './peer-log.ts';
import { logRing } from '../node/ops/log-ring.ts';
import { type ServedStatus, serveStatus } from '../node/ops/serve-status.ts';
import { hostStatusSource } from '../node/peer/host-status.ts';

const HELP = `sat-bootstrap: a bootstrap and relay peer for sat-peer teams

Usage: sat-bootstrap [--listen <multiaddr>]... [--announce <multiaddr>]... [--data-dir <dir>] [--http <host:port>]
                     [--json]

  --listen <multiaddr>    where to listen (default /ip4/0.0.0.0/tcp/4001); repeat for more
  --announce <multiaddr>  the public address to advertise (behind a port forward); repeat for more
  --data-dir <dir>        where its identity key lives (default ~/.sat-bootstrap)
  --http <host:port>      serve its status page (/), /status.json and Prometheus /metrics there; loopback
                          unless a host is written out; port 0: any free port (default: off)
  --json                  print {"peerId", "addresses"} as one JSON line, then one JSON event a line (a peer
                          connects or goes, the count every 5 minutes), instead of text
  --version               print the version
  -h, --help              show this help
`;

/** Runs the bootstrap peer until a signal; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const options = {
    listen: { type: 'string', multiple: true },
    announce: { type: 'string', multiple: true },
    'data-dir': { type: 'string' },
    http: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean' },
  } as const;
  let values: ReturnType<typeof parseArgs<{ args: string[]; options: typeof options }>>['values'];
  try {
    ({ values } = parseArgs({ args: argv, options }));
  } catch (err) {
    process.stderr.write(`sat-bootstrap: ${optionError(err as NodeJS.ErrnoException, Object.keys(options))}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  let host: PeerHost;
  let status: ServedStatus | undefined;
  const ring = logRing();
  try {
    const { privateKey } = await loadOrCreateIdentity(values['data-dir'] ?? path.join(os.homedir(), '.sat-bootstrap'));
    host = await PeerHost.start({
      privateKey,
      listen: values.listen ?? ['/ip4/0.0.0.0/tcp/4001'],
      announce: values.announce ?? [],
      server: true,
      log: (line) => {
        process.stderr.write(`${line}\n`);
        ring.note(line);
      },
    });
    if (values.http !== undefined)
      status = await serveStatus(values.http, hostStatusSource(host, ring), values['data-dir']).catch(async (err) => {
        await host.stop();
        throw err;
      });
  } catch (err) {
    const e = err as Error;
    process.stderr.write(
      `sat-bootstrap: ${['IdentityError', 'HostConfigError', 'HttpAddressError'].includes(e.name) ? '' : 'cannot start: '}${e.message}\n`,
    );
    return 2;
  }
  // Listen for the signals before saying it is up: whoever reads that line may signal at once.
  const stopped = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  const addresses = host.addresses;
  if (values.json) process.stdout.write(`${JSON.stringify({ peerId: host.peerId.toString(), addresses })}\n`);
  else
    process.stdout.write(
      `sat-bootstrap ${host.peerId} is up; give peers one of:\n${addresses.map((a) => `  --bootstrap ${a}`).join('\n')}\n`,
    );
  if (status && values.json) process.stdout.write(`${JSON.stringify({ event: 'http', url: status.url })}\n`);
  else if (status) process.stdout.write(`status page at ${status.where}\n`);
  const stopLog = logPeers(host, values.json === true, (line) => {
    process.stdout.write(`${line}\n`);
    ring.note(line);
  });
  const signal = await stopped;
  stopLog();
  await status?.stop();
  await host.stop();
  // As sat-peer stops: one line, and 128 + the signal's number (130 for SIGINT, 143 for SIGTERM).
  process.stderr.write(`sat-bootstrap: stopped (${signal})\n`);
  return 128 + os.constants.signals[signal];
}

/**
 * A command-line error as sat-peer says one: node's first sentence, lower-cased, an unknown option's nearest known
 * one (at most 2 edits) named, and where help is.
 */
function optionError(err: NodeJS.ErrnoException, known: readonly string[]): string {
  const first = err.message.split(/\.\s/)[0];
  const typed = err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && /'--([^'=]+)'/.exec(first)?.[1];
  let near: string | undefined;
  let distance = typed ? Math.min(2, typed.length - 1) + 1 : 0;
  for (const name of typed ? known : []) {
    const d = editDistance(typed as string, name);
    if (d < distance) [near, distance] = [name, d];
  }
  const hint = near ? `; did you mean --${near}?` : '';
  return `${first.charAt(0).toLowerCase()}${first.slice(1)}${hint} (see sat-bootstrap --help)`;
}
