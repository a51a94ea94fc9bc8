// A training batch and its checks: a malformed batch, or one whose extra inputs are not the loss's, is refused with
// an InputError before anything runs.
import { type Value, numel } from '../../gpu/graph.ts';
import type { HostTensor } from '../../gpu/ort.ts';
import { InputError } from '../errors.ts';

export interface TrainBatch {
  batch: number;
  seq: number;
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  /** Tensors for exactly the inputs the loss declared, with the declared dtypes and shapes. */
  extra?: Record<string, HostTensor>;
  /**
   * The only log-prob indices the loss reads ([batch, count] row-major; index t: the log-prob of
   * token t+1), so the head and its log-softmax run at those alone, not at every position: a loss
   * over one agent's tokens of a longer trajectory. Indices a row does not need may repeat any valid
   * one, masked out by the loss.
   */
  at?: { index: BigInt64Array; count: number };
}

/** Refuses (InputError) a batch whose shape, token ids or attention mask are malformed. */
export function checkBatch(b: TrainBatch, vocab: number): void {
  if (!Number.isSafeInteger(b.batch) || b.batch <= 0 || !Number.isSafeInteger(b.seq) || b.seq <= 0) {
    throw new InputError(`batch and seq must be positive integers, got batch ${b.batch} and seq ${b.seq}`);
  }
  for (const [key, data] of [
    ['inputIds', b.inputIds],
    ['attentionMask', b.attentionMask],
  ] as const) {
    if (!(data instanceof BigInt64Array) || data.length !== b.batch * b.seq) {
      throw new InputError(
        `${key} must be a BigInt64Array of batch × seq = ${b.batch * b.seq} values (rows one after another), got ` +
          `${data instanceof BigInt64Array ? data.length : typeof data}`,
      );
    }
  }
  const at = (i: number) => `row ${Math.floor(i / b.seq)}, position ${i % b.seq}`;
  const end = BigInt(vocab);
  const bad = b.inputIds.findIndex((id) => id < 0n || id >= end);
  if (bad >= 0)
    throw new InputError(
      `token id ${b.inputIds[bad]} at ${at(bad)} is out of range: the vocabulary has ${vocab} ids (0..${vocab - 1})`,
    );
  const odd = b.attentionMask.findIndex((m) => m !== 0n && m !== 1n);
  if (odd >= 0)
    throw new InputError(`attentionMask is ${b.attentionMask[odd]} at ${at(odd)}; use 1 for tokens and 0 for padding`);
  if (!b.at) return;
  const { index, count } = b.at;
  if (
    !Number.isSafeInteger(count) ||
    count <= 0 ||
    !(index instanceof BigInt64Array) ||
    index.length !== b.batch * count
  ) {
    throw new InputError(
      `at.index must be a BigInt64Array of batch × at.count values (at.count a positive integer), got ` +
        `${index instanceof BigInt64Array ? index.length : typeof index} for count ${count}`,
    );
  }
  const last = BigInt(b.seq - 2);
  const out = index.findIndex((i) => i < 0n || i > last);
  if (out >= 0)
    throw new InputError(
      `at.index ${index[out]} (row ${Math.floor(out / count)}) is out of range: log-prob indices run ` +
        `0..${b.seq - 2} for sequences of ${b.seq}`,
    );
}

/** Refuses (InputError) `extra` unless it holds exactly the inputs the loss declared, with their dtypes and shapes. */
export function checkExtra(extra: Record<string, HostTensor>, declared: readonly Value[]): void {
  const names = new Set(declared.map((v) => v.name));
  const stray = Object.keys(extra).find((n) => !names.has(n));
  if (stray !== undefined)
    throw new InputError(
      `batch.extra has '${stray}', which the loss does not declare; it declares ` +
        `${[...names].map((n) => `'${n}'`).join(', ') || 'no inputs'}`,
    );
  for (const v of declared) {
    const t = extra[v.name];
    const want = `${v.dtype} [${v.shape.join(', ')}]`;
    if (!t) throw new InputError(`batch.extra lacks '${v.name}': the loss needs it as ${want}`);
    if (t.dtype !== v.dtype || t.shape.join() !== v.shape.join() || t.data?.length !== numel(v.shape)) {
      throw new InputError(
        `batch.extra '${v.name}' is ${t.dtype} [${t.shape.join(', ')}] with ${t.data?.length} values; the loss needs ${want}`,
      );
    }
  }
}
