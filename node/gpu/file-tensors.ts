// Tensors read from files for sessions to feed themselves (a checkpoint's frozen weights): each is read and made
// float32 once per thread, shared by every session that names the same bytes, and dropped when the last of them is
// released. Sessions of many graphs and shape buckets thus hold one copy of the weights between them.
import { readTensor, type TensorInfo, toFloat32 } from './safetensors.ts';

interface Held {
  data: Float32Array;
  users: number;
}

const held = new Map<string, Held>();

const keyOf = (t: TensorInfo) => `${t.file}\0${t.offset}\0${t.length}\0${t.dtype}`;

/** The float32 values of `t`, read on first use; pair each call with `releaseFileTensor`. */
export function acquireFileTensor(t: TensorInfo): Float32Array {
  const key = keyOf(t);
  let h = held.get(key);
  if (!h) {
    h = { data: toFloat32(readTensor(t)), users: 0 };
    held.set(key, h);
  }
  h.users++;
  return h.data;
}

export function releaseFileTensor(t: TensorInfo): void {
  const key = keyOf(t);
  const h = held.get(key);
  if (h && --h.users === 0) held.delete(key);
}

/** Bytes of file tensors this thread holds now. */
export function fileTensorBytes(): number {
  let n = 0;
  for (const h of held.values()) n += h.data.byteLength;
  return n;
}
