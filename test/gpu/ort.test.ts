import test from 'ava';
import { Graph } from '../../node/gpu/graph.ts';
import * as op from '../../node/gpu/ops.ts';
import { CUDA_INSTALL_HINT, Session, cudaAvailable } from '../../node/gpu/ort.ts';

function doubler(): Uint8Array {
  const g = new Graph();
  const x = g.input('x', 'float32', [3]);
  g.output(op.mul(x, g.scalar('float32', 2)), 'y');
  return g.toBytes();
}

test('outputs can be written into caller-owned buffers', async (t) => {
  const s = await Session.create(doubler(), { threads: 1 });
  const into = new Float32Array(3);
  const out = await s.run({ x: { dtype: 'float32', shape: [3], data: Float32Array.of(1, 2, 3) } }, { y: { dtype: 'float32', shape: [3], data: into } });
  t.deepEqual([...into], [2, 4, 6]);
  t.is(out.y.data, into);
  await s.release();
});

test('asking for CUDA without its binaries says how to install them', async (t) => {
  if (cudaAvailable()) {
    const s = await Session.create(doubler(), { device: 'cuda' });
    t.is(s.device, 'cuda');
    return;
  }
  const err = await t.throwsAsync(Session.create(doubler(), { device: 'cuda' }), { name: 'DeviceError' });
  t.is(err!.message, CUDA_INSTALL_HINT);
  t.regex(err!.message, /ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci/);
});

test('a malformed model is a SessionError, not a crash', async (t) => {
  await t.throwsAsync(Session.create(Uint8Array.of(1, 2, 3, 4)), { name: 'SessionError' });
});
