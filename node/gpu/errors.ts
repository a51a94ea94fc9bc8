// Typed failures of the compute layer; each message says what to do next.

/** A graph was built wrongly (shape mismatch, unknown op): a bug in the caller's graph code. */
export class GraphError extends Error {
  override name = 'GraphError';
}

/** Autodiff met an op it has no gradient rule for. */
export class GradientError extends Error {
  override name = 'GradientError';
}

/** A .safetensors file is missing, truncated or malformed. */
export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

/** The requested execution device cannot be used. */
export class DeviceError extends Error {
  override name = 'DeviceError';
}

/** onnxruntime failed to build or run a session. */
export class SessionError extends Error {
  override name = 'SessionError';
}

/** The compute worker died (crash, exit, out of memory) or was closed while a call was pending. */
export class WorkerCrashedError extends Error {
  override name = 'WorkerCrashedError';
}
