// Pinned feeds (HostTensor.pin): weights fed at every run of a session on the session worker cross
// once per version. This side names each pinned buffer and sends it only while the worker lacks it;
// the worker's side (`PinStore`) keeps one version of each owner's buffers and resolves references.
import type { DType } from './graph.ts';
import type { HostTensor } from './ort.ts';

/** Where a pinned feed's values are: the owner's buffer at a version, and the feed's view of it. */
export interface PinRef {
  owner: number;
  version: number;
  buffer: number;
  byteOffset: number;
  length: number;
}

/** A feed as it crosses to the worker: a tensor, or a reference to a pinned buffer (with its data the first time). */
export type WireTensor = Omit<HostTensor, 'pin' | 'data'> & { data?: HostTensor['data']; ref?: PinRef };

const ARRAY: Record<DType, new (b: ArrayBufferLike, byteOffset: number, length: number) => HostTensor['data']> = {
  float32: Float32Array,
  float64: Float64Array,
  float16: Uint16Array,
  bfloat16: Uint16Array,
  int64: BigInt64Array,
  int32: Int32Array,
  bool: Uint8Array,
  uint8: Uint8Array,
  uint16: Uint16Array,
};

/** What the worker holds of an owner: the version, and which of its buffers (by id) it has. */
interface Held {
  id: number;
  version: number;
  buffers: Set<number>;
}

/** This thread's record of what the worker holds; `unpin(ownerId)` runs once an owner is collected. */
export class PinTracker {
  private readonly owners = new WeakMap<object, Held>();
  private readonly bufferIds = new WeakMap<ArrayBufferLike, number>();
  private readonly collected: FinalizationRegistry<number>;
  private nextId = 0;

  constructor(unpin: (ownerId: number) => void) {
    this.collected = new FinalizationRegistry(unpin);
  }

  /**
   * The feeds as they cross: a pinned one the worker holds at its version goes as a reference, one
   * it lacks goes with its data. `commit` records what was sent, once the worker has received it.
   */
  wire(feeds: Record<string, HostTensor>): { wire: Record<string, WireTensor>; commit: () => void } {
    const wire: Record<string, WireTensor> = {};
    const sending = new Map<Held, Set<number>>();
    for (const [name, t] of Object.entries(feeds)) {
      const { pin, ...rest } = t;
      if (!pin || t.lend) {
        wire[name] = rest;
        continue;
      }
      const held = this.held(pin.owner);
      if (held.version !== pin.version) [held.version, held.buffers] = [pin.version, new Set()];
      const buffer = this.bufferId(t.data.buffer);
      const ref: PinRef = {
        owner: held.id,
        version: pin.version,
        buffer,
        byteOffset: t.data.byteOffset,
        length: t.data.length,
      };
      const now = sending.get(held) ?? new Set<number>();
      sending.set(held, now);
      // A buffer goes once: with the first feed that views it, the others of this run refer to it.
      if (held.buffers.has(buffer) || now.has(buffer)) wire[name] = { dtype: t.dtype, shape: t.shape, ref };
      else {
        now.add(buffer);
        wire[name] = { dtype: t.dtype, shape: t.shape, ref, data: t.data };
      }
    }
    // A run that began at an older version than the owner has now does not count towards the new one.
    const versions = new Map([...sending.keys()].map((h) => [h, h.version]));
    const commit = () => {
      for (const [held, sent] of sending)
        if (held.version === versions.get(held)) for (const b of sent) held.buffers.add(b);
    };
    return { wire, commit };
  }

  private held(owner: object): Held {
    let h = this.owners.get(owner);
    if (!h) {
      h = { id: this.nextId++, version: Number.NaN, buffers: new Set() };
      this.owners.set(owner, h);
      this.collected.register(owner, h.id);
    }
    return h;
  }

  private bufferId(b: ArrayBufferLike): number {
    let id = this.bufferIds.get(b);
    if (id === undefined) this.bufferIds.set(b, (id = this.nextId++));
    return id;
  }
}

/** The worker's side: per owner, the one version it holds and those buffers (copies made as they crossed). */
export class PinStore {
  private readonly owners = new Map<number, { version: number; buffers: Map<number, ArrayBufferLike> }>();

  /** The feeds as tensors: buffers that came with this run are kept first, then every reference is resolved. */
  resolve(feeds: Record<string, WireTensor>): Record<string, HostTensor> {
    for (const t of Object.values(feeds)) {
      if (!t.ref || !t.data) continue;
      let o = this.owners.get(t.ref.owner);
      if (!o || o.version !== t.ref.version)
        this.owners.set(t.ref.owner, (o = { version: t.ref.version, buffers: new Map() }));
      o.buffers.set(t.ref.buffer, t.data.buffer);
    }
    const out: Record<string, HostTensor> = {};
    for (const [name, t] of Object.entries(feeds)) {
      const { ref, data, ...rest } = t;
      if (!ref) {
        out[name] = { ...rest, data: data! };
        continue;
      }
      const o = this.owners.get(ref.owner);
      const buffer = o?.version === ref.version ? o.buffers.get(ref.buffer) : undefined;
      if (!buffer)
        throw new Error(
          `the session worker does not hold the pinned buffer of feed '${name}' (owner ${ref.owner}, version ${ref.version})`,
        );
      out[name] = { ...rest, data: new ARRAY[t.dtype](buffer, ref.byteOffset, ref.length) };
    }
    return out;
  }

  drop(owner: number): void {
    this.owners.delete(owner);
  }

  /** Bytes held, for tests and diagnostics. */
  bytes(): number {
    let n = 0;
    for (const o of this.owners.values()) for (const b of o.buffers.values()) n += b.byteLength;
    return n;
  }
}
