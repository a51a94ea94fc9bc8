// Content-addressed blocks over a point-to-point protocol (docs/design §4.9, `/sat/blocks/1`): a peer
// keeps the blocks it made or fetched (trajectory shards, log-prob updates, the manifest), serves them
// by CID, and fetches any block by CID from a peer that has it — a peer that missed gossip or joined
// late catches up this way. The hash is checked on arrival; a peer that sends other bytes is counted.
//
// On the wire, length-prefixed frames: the request is the CID's bytes; the answer one status byte
// (FOUND or MISSING), then with FOUND the block.
import type { Libp2p, PeerId } from '@libp2p/interface';
import type { CID } from 'multiformats/cid';
import { cidFromBytes, contentId, verifyContent } from './cid.ts';
import { bump } from './counters.ts';
import { BlockFetchError } from './errors.ts';
import { StreamReader, sendFrames } from './frames.ts';

export const BLOCKS_PROTOCOL = '/sat/blocks/1';
/** The largest block served or accepted (a trajectory shard of a large batch). */
export const MAX_BLOCK_BYTES = 64 * 1024 * 1024;
/** A fetch that takes longer is given up (and the caller may ask another peer). */
export const FETCH_TIMEOUT_MS = 30_000;

const FOUND = 1;
const MISSING = 0;
const MAX_CID_BYTES = 64;
/** A request that has not arrived this long after its stream opened is dropped. */
const REQUEST_IDLE_MS = 5_000;

/** Bytes a store keeps by default before it forgets its oldest blocks (about a few stages of shards). */
export const STORE_BYTES = 1024 * 1024 * 1024;

/** Blocks by CID, in memory, up to a byte budget: past it the oldest blocks are forgotten (pinned ones never). */
export class BlockStore {
  private readonly blocks = new Map<string, Uint8Array>();
  private readonly pinned = new Map<string, Uint8Array>();
  private bytes = 0;

  constructor(private readonly budget = STORE_BYTES) {}

  /** Stores `bytes` under their CID (`pin`: for as long as this peer runs, outside the budget); the CID. */
  put(bytes: Uint8Array, pin = false): CID {
    const cid = contentId(bytes);
    const key = cid.toString();
    if (pin) {
      this.pinned.set(key, bytes);
      return cid;
    }
    if (this.blocks.has(key)) return cid;
    this.blocks.set(key, bytes);
    this.bytes += bytes.length;
    for (const [k, b] of this.blocks) {
      if (this.bytes <= this.budget || k === key) break;
      this.blocks.delete(k);
      this.bytes -= b.length;
    }
    return cid;
  }

  /** Forgets the (unpinned) block `cid`. */
  delete(cid: CID): void {
    const key = cid.toString();
    const b = this.blocks.get(key);
    if (!b) return;
    this.blocks.delete(key);
    this.bytes -= b.length;
  }

  get(cid: CID): Uint8Array | undefined {
    return this.pinned.get(cid.toString()) ?? this.blocks.get(cid.toString());
  }

  has(cid: CID): boolean {
    return this.get(cid) !== undefined;
  }

  get size(): number {
    return this.blocks.size;
  }
}

export interface BlockCounters {
  served: number;
  /** Requests that were not a CID (or were framed wrong), or whose stream failed mid-way. */
  badRequests: number;
  /** Bad requests by sender (bounded, counters.ts). */
  badFrom: Map<string, number>;
  fetched: number;
  /** Peers whose bytes did not hash to the CID asked for, by peer id. */
  corruptFrom: Map<string, number>;
}

/** Serves the store on /sat/blocks/1 and fetches from other peers. */
export class BlockService {
  readonly counters: BlockCounters = {
    served: 0,
    badRequests: 0,
    badFrom: new Map(),
    fetched: 0,
    corruptFrom: new Map(),
  };

  constructor(
    private readonly libp2p: Libp2p,
    readonly store: BlockStore,
  ) {}

  async start(): Promise<void> {
    await this.libp2p.handle(
      BLOCKS_PROTOCOL,
      async (stream, connection) => {
        // A request is one CID: nothing bigger is read, and a prefix that could announce more is refused at once.
        const reader = new StreamReader(stream, { maxBuffered: MAX_CID_BYTES + 8, idleMs: REQUEST_IDLE_MS });
        const signal = AbortSignal.timeout(FETCH_TIMEOUT_MS);
        let answering = false; // past the request, a failure is the link's, not the requester's fault
        try {
          const request = await reader.frame(MAX_CID_BYTES, signal);
          const cid = request && cidFromBytes(request);
          if (!cid) throw new Error('the request is not a block CID');
          answering = true;
          const block = this.store.get(cid);
          await sendFrames(stream, block ? [Uint8Array.of(FOUND), block] : [Uint8Array.of(MISSING)], signal);
          this.counters.served++;
          await stream.close({ signal });
        } catch (err) {
          if (!answering) {
            this.counters.badRequests++;
            bump(this.counters.badFrom, connection.remotePeer.toString());
          }
          stream.abort(err as Error);
        } finally {
          reader.release();
        }
      },
      { maxInboundStreams: 64 },
    );
  }

  async stop(): Promise<void> {
    await this.libp2p.unhandle(BLOCKS_PROTOCOL);
  }

  /**
   * The block `cid` from `peer`, checked against its hash, at most `maxBytes` long, and kept in the
   * store unless `keep` is false (a caller that validates it first stores it itself). Throws
   * BlockFetchError when the peer lacks it, sends other bytes, or does not answer in time.
   */
  async fetch(
    peer: PeerId,
    cid: CID,
    opts: { maxBytes?: number; keep?: boolean; timeoutMs?: number } = {},
  ): Promise<Uint8Array> {
    const { maxBytes = MAX_BLOCK_BYTES, keep = true, timeoutMs = FETCH_TIMEOUT_MS } = opts;
    const have = this.store.get(cid);
    if (have) return have;
    const signal = AbortSignal.timeout(timeoutMs);
    const stream = await this.libp2p.dialProtocol(peer, BLOCKS_PROTOCOL, { signal }).catch((err: Error) => {
      throw new BlockFetchError(`cannot open ${BLOCKS_PROTOCOL} to ${peer}: ${err.message}`);
    });
    const reader = new StreamReader(stream, { maxBuffered: maxBytes + 32 });
    try {
      await sendFrames(stream, [cid.bytes], signal);
      const status = await reader.frame(1, signal);
      if (status?.length !== 1 || (status[0] !== FOUND && status[0] !== MISSING))
        throw new BlockFetchError(`${peer} answered a block request with no status`);
      if (status[0] === MISSING) throw new BlockFetchError(`${peer} does not have block ${cid}`);
      const bytes = await reader.frame(maxBytes, signal);
      if (!bytes) throw new BlockFetchError(`${peer} closed the stream before the block`);
      if (!verifyContent(cid, bytes)) {
        bump(this.counters.corruptFrom, peer.toString());
        throw new BlockFetchError(`${peer} sent ${bytes.length} bytes that are not block ${cid}`);
      }
      await stream.close({ signal });
      if (keep) this.store.put(bytes);
      this.counters.fetched++;
      return bytes;
    } catch (err) {
      stream.abort(err as Error);
      if (err instanceof BlockFetchError) throw err;
      throw new BlockFetchError(`fetching block ${cid} from ${peer} failed: ${(err as Error).message}`);
    } finally {
      reader.release();
    }
  }
}
