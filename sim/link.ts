// Link emulation for `sat-peer sim --latency --loss`: a TCP relay in front of a peer's listening port.
// Each byte it carries, either way, arrives `latencyMs` late (one way), and a read chunk that would
// have lost a packet (each ~1460-byte segment with probability `loss`) arrives a retransmission
// timeout later still, holding back everything after it — what TCP makes of a lossy link: the
// bytes all arrive, in order, only later. Needs no privileges (tc netem would need root).
import net from 'node:net';

export interface LinkShape {
  /** One-way delay of every byte, in ms. */
  latencyMs: number;
  /** Chance that a packet is lost (0..1); a lost one is resent after `RTO_MS`. */
  loss: number;
}

/** Bytes of one TCP segment (a typical Ethernet MSS): loss is drawn per segment. */
const SEGMENT = 1460;
/** The retransmission timeout after a lost segment (Linux's minimum RTO). */
export const RTO_MS = 200;

/** Relays one direction of a connection: chunks leave in order, each at its delivery time. */
function delayed(from: net.Socket, to: net.Socket, shape: LinkShape, carried: (n: number) => void): void {
  const queue: { at: number; data: Buffer }[] = [];
  let timer: NodeJS.Timeout | undefined;
  let last = 0;
  let ended = false;
  const flush = () => {
    timer = undefined;
    const now = Date.now();
    while (queue.length && queue[0].at <= now) to.write(queue.shift()!.data);
    if (queue.length) timer = setTimeout(flush, queue[0].at - now);
    else if (ended) to.end();
  };
  from.on('data', (data: Buffer) => {
    const lost = Math.random() < 1 - (1 - shape.loss) ** Math.ceil(data.length / SEGMENT);
    last = Math.max(last, Date.now() + shape.latencyMs + (lost ? RTO_MS : 0));
    queue.push({ at: last, data });
    carried(data.length);
    timer ??= setTimeout(flush, last - Date.now());
  });
  from.on('end', () => {
    ended = true;
    if (!queue.length && !timer) to.end();
  });
}

/** A relay on 127.0.0.1 that shapes every connection to `target` (a host and port); `port` is where to dial instead. */
export class ShapedLink {
  /** Bytes carried so far, both ways. */
  bytes = 0;

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
    private readonly sockets: Set<net.Socket>,
  ) {}

  static async open(target: { host: string; port: number }, shape: LinkShape): Promise<ShapedLink> {
    const sockets = new Set<net.Socket>();
    const carried = (n: number) => {
      link.bytes += n;
    };
    // Half-open sockets: an end is passed on only once the bytes queued before it are delivered.
    const server = net.createServer({ allowHalfOpen: true }, (inbound) => {
      const outbound = net.connect({ port: target.port, host: target.host, allowHalfOpen: true });
      for (const s of [inbound, outbound]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => {
          inbound.destroy();
          outbound.destroy();
        });
      }
      delayed(inbound, outbound, shape, carried);
      delayed(outbound, inbound, shape, carried);
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
    const link = new ShapedLink(server, (server.address() as net.AddressInfo).port, sockets);
    return link;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** A free TCP port on 127.0.0.1 (for a process that must listen where a relay already points). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
