// The one module that imports onnxruntime-node: sessions over our ModelProto bytes, on CPU or CUDA.
// Session.run blocks the calling thread; callers on the network's thread go through compute-worker.ts.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import * as ort from 'onnxruntime-node';
import type { DType, Shape } from './graph.ts';
import { ComputeWorker } from './compute-worker.ts';
import type * as SessionWorker from './session-worker.ts';
import { DeviceError, SessionError } from './errors.ts';
import { acquireFileTensor, releaseFileTensor } from './file-tensors.ts';
import { defaultOptimizedDir, optimizedModel } from './optimized-models.ts';
import { PinTracker } from './pinned-feeds.ts';
import type { TensorInfo } from './safetensors.ts';

export type Device = 'cpu' | 'cuda';

/** A tensor on the host: a typed array (float16/bfloat16 as raw Uint16Array) with dtype and shape. */
export interface HostTensor {
  dtype: DType;
  shape: Shape;
  data: Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Uint16Array;
  /**
   * A feed or `into` output that a WorkerSession moves to the session worker and back instead of
   * copying it (a KV cache fed at every decode step, a trainer's parameters and moments): `data` is
   * then a new array over the same memory, so read it again after the run. The whole buffer moves,
   * other views of it included: nothing may touch it until the run ends.
   */
  lend?: boolean;
  /**
   * A feed the session worker may keep between runs (weights fed at every decode step): it keeps a
   * copy of the feed's buffer for `owner` at `version`, and a later feed of the same buffer at the
   * same version crosses as a reference. The owner changes the version whenever it changes the
   * contents; the worker keeps one version per owner and drops it once the owner is collected.
   */
  pin?: Pin;
}

export interface Pin {
  owner: object;
  version: number;
}

export interface SessionOptions {
  device?: Device;
  /** Intra-op threads (default: onnxruntime's choice, one per core). */
  threads?: number;
  /**
   * Inputs the session feeds itself from tensors in files (a checkpoint's frozen weights), by input name: read as
   * float32 once per thread and shared by every session that names the same bytes (file-tensors.ts).
   */
  fileInputs?: Readonly<Record<string, TensorInfo>>;
  /**
   * A folder that keeps each graph's optimized form between runs, so that a later build skips optimizing it
   * (default: optimized-models.ts defaultOptimizedDir; false: none).
   */
  optimizedDir?: string | false;
  /**
   * Let idle pool threads spin-wait for work (default false). On 2-core shared VMs, spinning
   * made decoding 30-50% slower and train steps no faster (a spinning vCPU takes time from the one
   * doing the work), and every session has its own pool: two spinning pools preempt each other.
   */
  spin?: boolean;
  /**
   * Keep onnxruntime's CPU memory arena (default false). An arena keeps the peak of every run for
   * the session's lifetime, and each session has its own: across the dozens of shape buckets of a run
   * that is gigabytes. Worth it for a session whose large buffers are refilled every run (a training
   * step): pages already touched are cheaper to fill than fresh ones.
   */
  arena?: boolean;
  /**
   * Build and run the session on the process's session worker (default false): session.run blocks
   * its thread for a whole step, and a peer's network loop must keep ticking meanwhile. Inputs are
   * copied to the worker and outputs moved back.
   */
  inWorker?: boolean;
}

/** What runs a graph: a Session on this thread, or a WorkerSession on the session worker. */
export interface GraphSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(
    feeds: Record<string, HostTensor>,
    into?: Record<string, HostTensor>,
    fetch?: string[],
  ): Promise<Record<string, HostTensor>>;
  release(): Promise<void>;
}

export const CUDA_INSTALL_HINT =
  'the CUDA execution provider is not installed: on the GPU host, after npm ci, run ' +
  '`ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install`';

const ORT_TYPE: Partial<Record<DType, ort.Tensor.Type>> = {
  float32: 'float32',
  float64: 'float64',
  float16: 'float16',
  int64: 'int64',
  int32: 'int32',
  bool: 'bool',
  uint8: 'uint8',
  uint16: 'uint16',
};

function toOrt(t: HostTensor): ort.Tensor {
  const type = ORT_TYPE[t.dtype];
  if (!type)
    throw new SessionError(`tensors of dtype ${t.dtype} cannot cross the onnxruntime binding; cast in the graph`);
  return new ort.Tensor(type, t.data as never, t.shape as number[]);
}

function fromOrt(t: ort.Tensor): HostTensor {
  return { dtype: t.type as DType, shape: [...t.dims], data: t.data as HostTensor['data'] };
}

/**
 * onnxruntime-node writes an output into the caller's tensor and still returns a copy of it, which the caller drops.
 * V8 collects such copies late: after a full fine-tuning step of a 0.6B model they are 7 GB of garbage, enough to
 * push the next step out of memory. A run whose caller-owned outputs exceed COLLECT_BYTES collects them at once.
 */
const COLLECT_BYTES = 256 * 2 ** 20;
let gc: (() => void) | undefined;
function collectCopies(bytes: number): void {
  if (bytes < COLLECT_BYTES) return;
  if (!gc) {
    v8.setFlagsFromString('--expose-gc');
    gc = vm.runInNewContext('gc') as () => void;
  }
  gc();
}

/** True when onnxruntime-node was installed with the CUDA execution provider's library. */
export function cudaAvailable(): boolean {
  const pkg = path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
  const bin = path.join(pkg, 'bin', 'napi-v6', process.platform, process.arch, 'libonnxruntime_providers_cuda.so');
  return fs.existsSync(bin);
}

/** A built onnxruntime session for one graph and shape bucket. */
export class Session implements GraphSession {
  private constructor(
    private readonly inner: ort.InferenceSession,
    readonly device: Device,
    /** The inputs fed from files, by name, and their tensors. */
    private readonly fileFeeds: ReadonlyMap<string, { info: TensorInfo; tensor: ort.Tensor }>,
  ) {}

  static async create(model: Uint8Array, options: SessionOptions = {}): Promise<Session> {
    const device = options.device ?? 'cpu';
    if (device === 'cuda' && !cudaAvailable()) throw new DeviceError(CUDA_INSTALL_HINT);
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      executionProviders: [device],
      graphOptimizationLevel: 'all',
      enableCpuMemArena: options.arena ?? false,
      interOpNumThreads: 1,
      logSeverityLevel: 3, // errors only: onnxruntime's warnings are about graph rewrites, not the user's input
      ...(options.threads ? { intraOpNumThreads: options.threads } : {}),
      extra: {
        session: {
          intra_op: { allow_spinning: options.spin ? '1' : '0' },
        },
      },
    };
    const dir = options.optimizedDir ?? defaultOptimizedDir();
    const cached = dir ? optimizedModel(dir, model, [ort.env.versions.common ?? '', device]) : undefined;
    let inner: ort.InferenceSession;
    try {
      if (cached && 'saved' in cached)
        inner = await ort.InferenceSession.create(cached.saved, {
          ...sessionOptions,
          graphOptimizationLevel: 'disabled',
        });
      else {
        inner = await ort.InferenceSession.create(model, {
          ...sessionOptions,
          ...(cached ? { optimizedModelFilePath: cached.saveTo } : {}),
        });
        cached?.commit();
      }
    } catch (err) {
      const msg = (err as Error).message;
      if (device === 'cuda' && /cuda|provider|libonnxruntime_providers/i.test(msg))
        throw new DeviceError(CUDA_INSTALL_HINT);
      throw new SessionError(`onnxruntime could not build the session: ${msg}`);
    }
    const fileFeeds = new Map<string, { info: TensorInfo; tensor: ort.Tensor }>();
    for (const name of inner.inputNames) {
      const info = options.fileInputs?.[name];
      if (info) fileFeeds.set(name, { info, tensor: new ort.Tensor('float32', acquireFileTensor(info), info.shape) });
    }
    return new Session(inner, device, fileFeeds);
  }

  /** The inputs a caller feeds (file-fed ones excluded). */
  get inputNames(): readonly string[] {
    return this.inner.inputNames.filter((n) => !this.fileFeeds.has(n));
  }
  get outputNames(): readonly string[] {
    return this.inner.outputNames;
  }

  /**
   * Runs the graph. `into` names outputs to write into caller-owned tensors (already-touched pages
   * are several times cheaper to fill than fresh ones); the rest are allocated.
   */
  async run(
    feeds: Record<string, HostTensor>,
    into: Record<string, HostTensor> = {},
    fetch?: string[],
  ): Promise<Record<string, HostTensor>> {
    const result = await this.runOnce(feeds, into, fetch);
    collectCopies(Object.values(into).reduce((n, t) => n + t.data.byteLength, 0));
    return result;
  }

  /** One run; onnxruntime's copies of the `into` outputs are garbage once it returns. */
  private async runOnce(
    feeds: Record<string, HostTensor>,
    into: Record<string, HostTensor>,
    fetch?: string[],
  ): Promise<Record<string, HostTensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) ortFeeds[k] = toOrt(v);
    for (const [name, { tensor }] of this.fileFeeds) ortFeeds[name] = tensor;
    const names = fetch ?? this.outputNames;
    const fetches: Record<string, ort.Tensor | null> = {};
    for (const name of names) fetches[name] = into[name] ? toOrt(into[name]) : null;
    let out: ort.InferenceSession.ReturnType;
    try {
      out = await this.inner.run(ortFeeds, fetches as ort.InferenceSession.FetchesType);
    } catch (err) {
      throw new SessionError(`onnxruntime failed to run the graph: ${(err as Error).message}`);
    }
    const result: Record<string, HostTensor> = {};
    for (const name of names) result[name] = into[name] ?? fromOrt(out[name]);
    return result;
  }

  async release(): Promise<void> {
    await this.inner.release();
    for (const { info } of this.fileFeeds.values()) releaseFileTensor(info);
  }
}

/** The session worker's handlers (session-worker.ts): the server side of WorkerSession. */
type SessionHandlers = typeof SessionWorker;

/** One worker per process serves every WorkerSession; it does not keep the process alive. */
let worker: Promise<ComputeWorker<SessionHandlers>> | undefined;
function sessionWorker(): Promise<ComputeWorker<SessionHandlers>> {
  worker ??= ComputeWorker.start<SessionHandlers>(new URL('./session-worker.ts', import.meta.url), {
    name: 'sessions',
  }).then((w) => {
    w.unref();
    return w;
  });
  return worker;
}
let nextSessionId = 0;
/** What the session worker holds of pinned feeds; an owner's buffers are dropped there once it is collected here. */
const pins = new PinTracker((owner) => {
  void worker?.then((w) => w.call('unpin', [owner])).catch(() => undefined);
});

/** Bytes the session worker holds of pinned feeds (0 before it starts). */
export async function pinnedBytes(): Promise<number> {
  return worker ? (await worker).call('pinnedBytes', []) : 0;
}

/**
 * A run's reply: outputs, the lent feeds and outputs moved back, and the run's error (the lent buffers come back even
 * then).
 */
export interface RunReply {
  out: Record<string, HostTensor>;
  back: Record<string, HostTensor['data']>;
  into: Record<string, HostTensor['data']>;
  error?: string;
}

/** A session on the session worker: the same graph, run off this thread. */
export class WorkerSession implements GraphSession {
  private constructor(
    private readonly worker: ComputeWorker<SessionHandlers>,
    private readonly id: number,
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
  ) {}

  static async create(model: Uint8Array, options: SessionOptions): Promise<WorkerSession> {
    const worker = await sessionWorker();
    const id = nextSessionId++;
    const names = await worker.call('create', [id, model, options]);
    return new WorkerSession(worker, id, names.inputNames, names.outputNames);
  }

  async run(
    feeds: Record<string, HostTensor>,
    into: Record<string, HostTensor> = {},
    fetch?: string[],
  ): Promise<Record<string, HostTensor>> {
    const lent = Object.keys(feeds).filter((n) => feeds[n].lend);
    const lentInto = Object.fromEntries(Object.entries(into).filter(([, t]) => t.lend));
    const moved = [
      ...new Set(
        [...lent.map((n) => feeds[n].data), ...Object.values(lentInto).map((t) => t.data)].map(
          (d) => d.buffer as ArrayBuffer,
        ),
      ),
    ];
    const { wire, commit } = pins.wire(feeds);
    const reply = await this.worker.call('run', [this.id, wire, fetch, lent, lentInto], moved);
    commit();
    for (const n of lent) feeds[n].data = reply.back[n];
    for (const n of Object.keys(lentInto)) into[n].data = reply.into[n];
    if (reply.error !== undefined) throw new SessionError(reply.error);
    const { out } = reply;
    for (const [name, t] of Object.entries(into)) {
      if (!out[name]) continue;
      if (!t.lend) (t.data as Float32Array).set(out[name].data as Float32Array);
      out[name] = t;
    }
    return out;
  }

  async release(): Promise<void> {
    await this.worker.call('release', [this.id]);
  }
}

/** Progress of reading file inputs: bytes read of the total. */
export type LoadProgress = (done: number, total: number) => void;

/**
 * Sessions built on first use, one per key (graph and shape bucket), reused, and released together. The cache holds
 * its file inputs from the first build (or `load`) to `release`, so that sessions dropped and built again do not
 * read them again.
 */
export class SessionCache {
  private readonly sessions = new Map<string, Promise<GraphSession>>();
  private loaded: Promise<void> | undefined;

  constructor(private readonly options: SessionOptions = {}) {}

  /**
   * Reads the file inputs on the thread that runs the sessions, reporting after each tensor (only the first call
   * reads; later ones wait for it).
   */
  load(onProgress?: LoadProgress): Promise<void> {
    this.loaded ??= (async () => {
      const infos = Object.values(this.options.fileInputs ?? {});
      const total = infos.reduce((n, t) => n + t.length, 0);
      let done = 0;
      for (const info of infos) {
        if (this.options.inWorker) await (await sessionWorker()).call('holdFileTensor', [info]);
        else acquireFileTensor(info);
        done += info.length;
        onProgress?.(done, total);
      }
    })();
    return this.loaded;
  }

  /** The session for `key`; the first call builds it from `model()` with the cache's options. */
  get(key: string, model: () => Uint8Array): Promise<GraphSession> {
    let s = this.sessions.get(key);
    if (!s) {
      const bytes = model();
      s = this.load().then(
        (): Promise<GraphSession> =>
          this.options.inWorker ? WorkerSession.create(bytes, this.options) : Session.create(bytes, this.options),
      );
      this.sessions.set(key, s);
      s.catch(() => this.sessions.delete(key)); // a failed build is retried on the next call
    }
    return s;
  }

  keys(): string[] {
    return [...this.sessions.keys()];
  }

  /** Releases one session (and its memory arena); the next `get` of its key builds it again. */
  async drop(key: string): Promise<void> {
    const s = this.sessions.get(key);
    this.sessions.delete(key);
    await s?.then(
      (x) => x.release(),
      () => undefined,
    );
  }

  async release(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of all)
      await s.then(
        (x) => x.release(),
        () => undefined,
      );
    if (!this.loaded) return;
    const loaded = this.loaded;
    this.loaded = undefined;
    await loaded.catch(() => undefined);
    for (const info of Object.values(this.options.fileInputs ?? {})) {
      if (this.options.inWorker) await (await sessionWorker()).call('releaseFileTensor', [info]);
      else releaseFileTensor(info);
    }
  }
}
