// Reading length-prefixed messages from a libp2p stream with every size bounded (docs/design §4.13).
//
// Not @libp2p/utils' lpStream: its varint decoder throws RangeError on a prefix longer than a varint
// may be, which lpStream takes for "need more bytes", so a peer that sends 0xff bytes forever is read
// forever and its `maxLengthLength` never fires. Here a prefix longer than the largest allowed length
// needs is refused at once, as is a length over the largest allowed, and as is a peer that sends more
// than the reader may buffer.
import type { Stream } from '@libp2p/interface';
import { Uint8ArrayList } from 'uint8arraylist';

/** Why a stream's bytes were refused; stable strings for counters. */
export type FrameReason =
  | 'prefix-too-long' // a length prefix with more bytes than the largest allowed length needs
  | 'too-large' // a length over the largest allowed
  | 'flood' // more bytes than the reader may buffer (sent unasked)
  | 'truncated' // the stream ended inside a message
  | 'bad-status' // a status byte the protocol does not define
  | 'bad-cid'; // a request that is not a CID this network uses

/** A peer broke the framing: its stream is to be reset and the peer counted. */
export class FrameError extends Error {
  override name = 'FrameError';
  constructor(
    readonly reason: FrameReason,
    message: string,
  ) {
    super(message);
  }
}

/** Bytes of the unsigned varint of `n`. */
export function varintLength(n: number): number {
  let bytes = 1;
  for (let x = n; x >= 0x80; x = Math.floor(x / 0x80)) bytes++;
  return bytes;
}

/** The unsigned varint of `n` (a safe integer). */
export function varint(n: number): Uint8Array {
  const out = new Uint8Array(varintLength(n));
  let x = n;
  for (let i = 0; i < out.length - 1; i++) {
    out[i] = (x % 0x80) | 0x80;
    x = Math.floor(x / 0x80);
  }
  out[out.length - 1] = x;
  return out;
}

/** Sends `frames`, each after its varint length, then waits for the stream to drain if its buffer is full. */
export async function sendFrames(stream: Stream, frames: Uint8Array[], signal?: AbortSignal): Promise<void> {
  const list = new Uint8ArrayList();
  for (const f of frames) list.append(varint(f.byteLength), f);
  if (!stream.send(list)) await stream.onDrain({ ...(signal ? { signal } : {}) });
}

/** A read waited longer than the reader's `idleMs` with no byte arriving: the peer is gone or stalled. */
export class ReadTimeoutError extends Error {
  override name = 'TimeoutError';
}

export interface StreamReaderInit {
  /** Bytes the reader may hold unread; past it the peer sent what it was not asked for, and the stream is aborted. */
  maxBuffered: number;
  /** A read that waits this long with no byte arriving fails with a ReadTimeoutError (default: never). */
  idleMs?: number;
}

/**
 * Reads a stream's bytes as they arrive (it attaches to the stream's events). One timer serves every read, restarted
 * as bytes arrive, so that a read costs no timer or signal of its own.
 */
export class StreamReader {
  private readonly buf = new Uint8ArrayList();
  private wake: (() => void) | undefined;
  private failure: Error | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly maxBuffered: number;
  private readonly idleMs: number | undefined;
  private readonly onMessage = (evt: { data: Uint8Array | Uint8ArrayList }) => {
    if (this.failure) return;
    this.buf.append(evt.data);
    if (this.buf.byteLength > this.maxBuffered) {
      const err = new FrameError(
        'flood',
        `the peer sent ${this.buf.byteLength} bytes unread, over ${this.maxBuffered}`,
      );
      this.cancel(err);
      this.buf.consume(this.buf.byteLength);
      queueMicrotask(() => this.stream.abort(err));
      return;
    }
    this.notify();
  };
  private readonly onClose = (evt: Event & { error?: Error }) => {
    if (evt.error && !this.failure) this.failure = evt.error;
    this.notify();
  };
  private readonly notify = () => {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  };
  private readonly onIdle = () => {
    if (this.wake) this.cancel(new ReadTimeoutError(`no byte arrived for ${this.idleMs} ms`));
  };

  constructor(
    private readonly stream: Stream,
    init: StreamReaderInit,
  ) {
    this.maxBuffered = init.maxBuffered;
    this.idleMs = init.idleMs;
    stream.addEventListener('message', this.onMessage);
    stream.addEventListener('close', this.onClose);
    stream.addEventListener('remoteCloseWrite', this.notify);
    stream.addEventListener('end', this.notify);
  }

  /** Fails the read in progress, and every later one, with `err`. */
  cancel(err: Error): void {
    this.failure ??= err;
    this.notify();
  }

  /** Stops reading (the listeners and the timer go). */
  release(): void {
    this.stream.removeEventListener('message', this.onMessage);
    this.stream.removeEventListener('close', this.onClose);
    this.stream.removeEventListener('remoteCloseWrite', this.notify);
    this.stream.removeEventListener('end', this.notify);
    clearTimeout(this.timer);
    this.cancel(new Error('the reader was released'));
  }

  /** Whether no more bytes will arrive (the remote closed its end and everything it sent was delivered). */
  private get ended(): boolean {
    const s = this.stream;
    const over =
      s.remoteWriteStatus !== 'writable' || s.status === 'closed' || s.status === 'aborted' || s.status === 'reset';
    return over && s.readBufferLength === 0;
  }

  /** Waits until `n` bytes are buffered: true, or false once the stream ended short of them. */
  private async fill(n: number, signal?: AbortSignal): Promise<boolean> {
    while (this.buf.byteLength < n) {
      if (this.failure) throw this.failure;
      if (this.ended) return false;
      signal?.throwIfAborted();
      if (this.idleMs !== undefined) {
        if (this.timer) this.timer.refresh();
        else this.timer = setTimeout(this.onIdle, this.idleMs).unref();
      }
      await new Promise<void>((resolve, reject) => {
        if (!signal) {
          this.wake = resolve;
          return;
        }
        const abort = () => reject(signal.reason);
        this.wake = () => {
          signal.removeEventListener('abort', abort);
          resolve();
        };
        signal.addEventListener('abort', abort, { once: true });
      });
    }
    return true;
  }

  /** The next byte, or undefined when the stream ended cleanly before it. */
  async byte(signal?: AbortSignal): Promise<number | undefined> {
    if (!(await this.fill(1, signal))) return undefined;
    const b = this.buf.get(0);
    this.buf.consume(1);
    return b;
  }

  /**
   * A varint length of at most `max`: a prefix longer than `max` needs, or a larger value, is refused as soon as it
   * shows. Undefined when the stream ended cleanly before it.
   */
  async length(max: number, signal?: AbortSignal): Promise<number | undefined> {
    const limit = varintLength(max);
    let value = 0;
    for (let i = 0; ; i++) {
      if (!(await this.fill(i + 1, signal))) {
        if (i === 0) return undefined;
        throw new FrameError('truncated', 'the stream ended inside a length prefix');
      }
      const b = this.buf.get(i);
      value += (b & 0x7f) * 2 ** (7 * i);
      if (b < 0x80) {
        this.buf.consume(i + 1);
        if (value > max) throw new FrameError('too-large', `a message of ${value} bytes is over the ${max} allowed`);
        return value;
      }
      if (i + 1 >= limit)
        throw new FrameError('prefix-too-long', `a length prefix of over ${limit} bytes (at most ${max} is allowed)`);
    }
  }

  /** Exactly `n` bytes, as a plain view (no copy when they arrived in one piece). */
  async bytes(n: number, signal?: AbortSignal): Promise<Uint8Array> {
    if (!(await this.fill(n, signal)))
      throw new FrameError('truncated', `the stream ended after ${this.buf.byteLength} of ${n} bytes`);
    const out = this.buf.subarray(0, n);
    this.buf.consume(n);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  }

  /** Exactly `n` bytes as the pieces they arrived in (no copy: hashed and written piece by piece). */
  async pieces(n: number, signal?: AbortSignal): Promise<Uint8ArrayList> {
    if (!(await this.fill(n, signal)))
      throw new FrameError('truncated', `the stream ended after ${this.buf.byteLength} of ${n} bytes`);
    const out = this.buf.sublist(0, n);
    this.buf.consume(n);
    return out;
  }

  /** One length-prefixed message of at most `max` bytes, or undefined when the stream ended cleanly before it. */
  async frame(max: number, signal?: AbortSignal): Promise<Uint8Array | undefined> {
    const n = await this.length(max, signal);
    return n === undefined ? undefined : this.bytes(n, signal);
  }
}
