// Serving a chunk store's blocks on /sat/chunks/1 (docs/design §4.13). A stream carries many requests,
// each answered in order, so a fetcher keeps several in flight without a round trip or a new stream
// per chunk:
//
//   request   uvarint length (<= 64, so one byte) || the block's binary CID
//   answer    0x01 (FOUND) || uvarint length || the block     or     0x00 (MISSING)
//
// Every block is hashed again as it is read from disk, so a chunk corrupted there is answered MISSING
// (and deleted) rather than sent. A request that breaks the framing (a prefix over one byte, a length
// over 64, bytes that are no CID, too many requests sent ahead) resets that stream and is counted by
// reason and by peer; the server goes on serving others.
import type { Libp2p, Stream } from '@libp2p/interface';
import type { CID } from 'multiformats/cid';
import { Uint8ArrayList } from 'uint8arraylist';
import { cidFromBytes } from './cid.ts';
import type { ChunkStore } from './chunk-store.ts';
import { bump } from './counters.ts';
import { FrameError, StreamReader, varint } from './frames.ts';

export const CHUNKS_PROTOCOL = '/sat/chunks/1';
export const FOUND = 1;
export const MISSING = 0;
/** The longest request: a binary CID (36 bytes for the one form this network uses). */
export const MAX_REQUEST_BYTES = 64;
/** Requests a peer may send ahead of their answers on one stream; more is a flood. */
export const MAX_PIPELINED = 256;
/** A stream that brings no request for this long is closed. */
export const IDLE_TIMEOUT_MS = 60_000;
/** An answer the peer does not read within this long ends the stream. */
export const WRITE_TIMEOUT_MS = 30_000;
/** Streams of this protocol one connection may open at once (a fetcher uses one). */
const MAX_STREAMS = 16;

export interface ChunkServerCounters {
  /** Blocks sent, and their bytes. */
  served: number;
  bytes: number;
  /** Requests for blocks the store lacks (or found corrupt). */
  missing: number;
  /** Streams reset for breaking the framing, by reason (FrameReason) and by peer id. */
  rejected: Map<string, number>;
  rejectedFrom: Map<string, number>;
  /** Streams that broke off otherwise: the peer went away or stopped reading. */
  failed: number;
}

/** Serves a ChunkStore's blocks to other peers. */
export class ChunkServer {
  readonly counters: ChunkServerCounters = {
    served: 0,
    bytes: 0,
    missing: 0,
    rejected: new Map(),
    rejectedFrom: new Map(),
    failed: 0,
  };

  /**
   * `serves` gives what goes out for a block held (default: the block; undefined: MISSING), so that the sim's
   * adversaries can withhold or spoil what they serve.
   */
  constructor(
    private readonly libp2p: Libp2p,
    readonly store: ChunkStore,
    private readonly serves: (cid: CID, block: Uint8Array) => Uint8Array | undefined = (_, block) => block,
  ) {}

  async start(): Promise<void> {
    await this.libp2p.handle(
      CHUNKS_PROTOCOL,
      (stream, connection) => void this.serve(stream, connection.remotePeer.toString()),
      { maxInboundStreams: MAX_STREAMS },
    );
  }

  async stop(): Promise<void> {
    await this.libp2p.unhandle(CHUNKS_PROTOCOL);
  }

  private async serve(stream: Stream, peer: string): Promise<void> {
    const reader = new StreamReader(stream, {
      maxBuffered: MAX_PIPELINED * (MAX_REQUEST_BYTES + 1),
      idleMs: IDLE_TIMEOUT_MS,
    });
    try {
      for (;;) {
        const request = await reader.frame(MAX_REQUEST_BYTES);
        if (request === undefined) break; // the fetcher is done
        const cid = cidFromBytes(request);
        if (!cid) throw new FrameError('bad-cid', 'the request is not a block CID');
        const held = await this.store.get(cid);
        const block = held && this.serves(cid, held);
        let more: boolean;
        if (block) {
          more = stream.send(new Uint8ArrayList(Uint8Array.of(FOUND), varint(block.byteLength), block));
          this.counters.served++;
          this.counters.bytes += block.byteLength;
        } else {
          more = stream.send(Uint8Array.of(MISSING));
          this.counters.missing++;
        }
        if (!more) await stream.onDrain({ signal: AbortSignal.timeout(WRITE_TIMEOUT_MS) });
      }
      await stream.close({ signal: AbortSignal.timeout(WRITE_TIMEOUT_MS) });
    } catch (err) {
      if (err instanceof FrameError) {
        bump(this.counters.rejected, err.reason);
        bump(this.counters.rejectedFrom, peer);
      } else this.counters.failed++;
      stream.abort(err as Error);
    } finally {
      reader.release();
    }
  }
}
