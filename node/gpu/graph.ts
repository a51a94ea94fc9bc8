// A small typed builder for ONNX graphs with static shapes, serialized to ModelProto bytes.
// Every value knows its dtype and shape, so op helpers (ops.ts) and autodiff can reason statically;
// one graph is built per shape bucket.
import onnxProto from 'onnx-proto';
import { GraphError } from './errors.ts';

const { onnx } = onnxProto;

export type DType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'bool' | 'uint8' | 'uint16';
export type Shape = readonly number[];

export const ONNX_DTYPE: Record<DType, number> = {
  float32: 1,
  uint8: 2,
  uint16: 4,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
  bfloat16: 16,
};
export const DTYPE_BYTES: Record<DType, number> = {
  float32: 4,
  uint8: 1,
  uint16: 2,
  int32: 4,
  int64: 8,
  bool: 1,
  float16: 2,
  float64: 8,
  bfloat16: 2,
};
export const IR_VERSION = 11;
export const OPSET = 23;

export type AttrValue =
  | number
  | string
  | number[]
  | { ints: number[] }
  | { floats: number[] }
  | { float: number }
  | { graph: Graph };

export interface Value {
  readonly graph: Graph;
  readonly name: string;
  readonly dtype: DType;
  readonly shape: Shape;
}

export interface Node {
  readonly opType: string;
  readonly inputs: readonly Value[];
  readonly outputs: readonly Value[];
  readonly attrs: Readonly<Record<string, AttrValue>>;
}

interface Initializer {
  value: Value;
  bytes: Uint8Array;
}

export const numel = (shape: Shape): number => shape.reduce((a, b) => a * b, 1);

export function isFloat(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64' || dtype === 'float16' || dtype === 'bfloat16';
}

/** Typed array backing a dtype, as onnxruntime-node expects it. */
export function typedArrayFor(dtype: DType, data: readonly number[] | readonly bigint[]): ArrayBufferView {
  switch (dtype) {
    case 'float32':
      return Float32Array.from(data as number[]);
    case 'float64':
      return Float64Array.from(data as number[]);
    case 'int32':
      return Int32Array.from(data as number[]);
    case 'int64':
      return BigInt64Array.from((data as (number | bigint)[]).map((x) => BigInt(x)));
    case 'bool':
    case 'uint8':
      return Uint8Array.from(data as number[]);
    case 'uint16':
    case 'float16':
    case 'bfloat16':
      return Uint16Array.from(data as number[]);
  }
}

function shapeKey(shape: Shape): string {
  return `[${shape.join(',')}]`;
}

export class Graph {
  readonly nodes: Node[] = [];
  readonly inputs: Value[] = [];
  readonly outputs: Value[] = [];
  private readonly initializers: Initializer[] = [];
  private readonly initByName = new Map<string, Initializer>();
  private readonly producers = new Map<string, Node>();
  /** Node outputs renamed to the graph output name they were given. */
  private readonly renames = new Map<string, string>();
  private readonly names = new Set<string>();
  private counter = 0;
  private readonly constCache = new Map<string, Value>();
  /** Values of enclosing graphs this subgraph reads by name (outer). */
  private readonly outerNames = new Set<string>();

  /** `scope` prefixes the fresh names of a subgraph, so they cannot clash with its enclosing graph's. */
  constructor(
    readonly name = 'sat_peer',
    private readonly scope = '',
  ) {}

  /** A graph that a node of this one runs (a Loop's body). */
  subgraph(name: string): Graph {
    return new Graph(name, `${this.scope}${name}.`);
  }

  /** In a subgraph: a value of an enclosing graph, read by its name (it is not an input here). */
  outer(v: Value): Value {
    this.outerNames.add(v.name);
    return this.value(v.name, v.dtype, v.shape);
  }

  /** A fresh, unique value name with the given prefix. */
  fresh(prefix: string): string {
    let name = `${this.scope}${prefix}_${this.counter++}`;
    while (this.names.has(name)) name = `${this.scope}${prefix}_${this.counter++}`;
    this.names.add(name);
    return name;
  }

  private claim(name: string): string {
    if (this.names.has(name)) throw new GraphError(`duplicate value name '${name}'`);
    this.names.add(name);
    return name;
  }

  private value(name: string, dtype: DType, shape: Shape): Value {
    if (shape.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new GraphError(`value '${name}' has an invalid shape ${shapeKey(shape)}`);
    }
    return { graph: this, name, dtype, shape: [...shape] };
  }

  input(name: string, dtype: DType, shape: Shape): Value {
    const v = this.value(this.claim(name), dtype, shape);
    this.inputs.push(v);
    return v;
  }

  /** A named constant tensor of the model, from its raw little-endian bytes. */
  initializer(name: string, dtype: DType, shape: Shape, bytes: Uint8Array): Value {
    return this.addInitializer(this.claim(name), dtype, shape, bytes);
  }

  private addInitializer(name: string, dtype: DType, shape: Shape, bytes: Uint8Array): Value {
    const v = this.value(name, dtype, shape);
    const expected = numel(shape) * DTYPE_BYTES[dtype];
    if (bytes.byteLength !== expected) {
      throw new GraphError(
        `initializer '${name}' has ${bytes.byteLength} bytes, its shape ${shapeKey(shape)} needs ${expected}`,
      );
    }
    const init = { value: v, bytes };
    this.initializers.push(init);
    this.initByName.set(v.name, init);
    return v;
  }

  /** A constant tensor embedded in the model; small identical constants are shared. */
  constant(dtype: DType, shape: Shape, data: readonly number[] | readonly bigint[]): Value {
    if (data.length !== numel(shape))
      throw new GraphError(`constant has ${data.length} values for shape ${shapeKey(shape)}`);
    const key = data.length <= 64 ? `${dtype}${shapeKey(shape)}${data.join(',')}` : undefined;
    const hit = key && this.constCache.get(key);
    if (hit) return hit;
    const view = typedArrayFor(dtype, data);
    const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    const v = this.addInitializer(this.fresh('const'), dtype, shape, bytes);
    if (key) this.constCache.set(key, v);
    return v;
  }

  scalar(dtype: DType, x: number): Value {
    return this.constant(dtype, [], [x]);
  }

  ints(xs: readonly number[]): Value {
    return this.constant('int64', [xs.length], xs);
  }

  /** Records one node; `outs` gives each output's dtype and shape (from the op helper's inference). */
  node(
    opType: string,
    inputs: readonly (Value | null)[],
    outs: { dtype: DType; shape: Shape }[],
    attrs: Record<string, AttrValue> = {},
  ): Value[] {
    for (const x of inputs) {
      if (x && x.graph !== this) throw new GraphError(`${opType}: input '${x.name}' belongs to another graph`);
    }
    const outputs = outs.map((o) => this.value(this.fresh(opType.toLowerCase()), o.dtype, o.shape));
    // Optional inputs that are left out are written as empty names.
    const ins = inputs.map((x) => x ?? { graph: this, name: '', dtype: 'float32' as DType, shape: [] });
    this.record({ opType, inputs: ins, outputs, attrs });
    return outputs;
  }

  /** The bytes of an initializer (a constant), or undefined. */
  constantData(v: Value): Uint8Array | undefined {
    return this.initByName.get(v.name)?.bytes;
  }

  /** The node that computes `v`, or undefined for inputs and initializers. */
  producer(v: Value): Node | undefined {
    return this.producers.get(v.name);
  }

  private record(n: Node): void {
    this.nodes.push(n);
    for (const o of n.outputs) this.producers.set(o.name, n);
  }

  /**
   * Adds outputs (and attributes) to a node already recorded: for a gradient rule that needs an
   * intermediate the forward op can emit on request (Attention's softmax probabilities).
   */
  extendNode(n: Node, outs: { dtype: DType; shape: Shape }[], attrs: Record<string, AttrValue>): Value[] {
    const added = outs.map((o) => this.value(this.fresh(n.opType.toLowerCase()), o.dtype, o.shape));
    const node = n as { outputs: readonly Value[]; attrs: Readonly<Record<string, AttrValue>> };
    node.outputs = [...n.outputs, ...added];
    node.attrs = { ...n.attrs, ...attrs };
    for (const o of added) this.producers.set(o.name, n);
    return added;
  }

  /**
   * Marks `v` as a graph output under `name`: a node's own output is renamed in place; an input,
   * initializer or value already output under another name goes through an Identity node.
   */
  output(v: Value, name = v.name): Value {
    const finalName = (x: Value) => this.renames.get(x.name) ?? x.name;
    const producer = this.producers.get(v.name);
    let out = v;
    if (name !== finalName(v)) {
      if (producer && !this.renames.has(v.name) && !this.outputs.includes(v)) {
        this.renames.set(v.name, this.claim(name));
      } else {
        out = this.value(this.claim(name), v.dtype, v.shape);
        this.record({ opType: 'Identity', inputs: [v], outputs: [out], attrs: {} });
      }
    }
    this.outputs.push(out);
    return out;
  }

  /** The nodes and initializers some graph output depends on, in recording order. */
  private live(): { nodes: Node[]; initializers: Initializer[] } {
    const needed = new Set(this.outputs.map((v) => v.name));
    const nodes: Node[] = [];
    for (let k = this.nodes.length - 1; k >= 0; k--) {
      const n = this.nodes[k];
      if (!n.outputs.some((o) => needed.has(o.name))) continue;
      nodes.push(n);
      for (const x of n.inputs) needed.add(x.name);
      for (const a of Object.values(n.attrs))
        if (typeof a === 'object' && 'graph' in a) for (const x of a.graph.outerNames) needed.add(x);
    }
    return { nodes: nodes.reverse(), initializers: this.initializers.filter((i) => needed.has(i.value.name)) };
  }

  /**
   * Serializes to ModelProto bytes (IR 11, default-domain opset 23). Nodes no output depends on
   * (onnxruntime would still run them) and initializers nothing reads are left out.
   */
  toBytes(): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      producerName: 'sat-peer',
      opsetImport: [{ domain: '', version: OPSET }],
      graph: this.proto(),
    });
    return onnx.ModelProto.encode(model).finish();
  }

  /** The GraphProto, with only the live nodes and initializers (a subgraph's goes into its node's attribute). */
  private proto(): Record<string, unknown> {
    const live = this.live();
    const nameOf = (v: Value) => this.renames.get(v.name) ?? v.name;
    const valueInfo = (v: Value) => ({
      name: nameOf(v),
      type: { tensorType: { elemType: ONNX_DTYPE[v.dtype], shape: { dim: v.shape.map((d) => ({ dimValue: d })) } } },
    });
    const initializer = live.initializers.map(({ value, bytes }) => ({
      name: value.name,
      dataType: ONNX_DTYPE[value.dtype],
      dims: [...value.shape],
      rawData: bytes,
    }));
    return {
      name: this.name,
      node: live.nodes.map((n, i) => ({
        name: `${this.scope}n${i}`,
        opType: n.opType,
        input: n.inputs.map(nameOf),
        output: n.outputs.map(nameOf),
        attribute: Object.entries(n.attrs).map(([name, a]) =>
          typeof a === 'object' && 'graph' in a
            ? { name, type: onnx.AttributeProto.AttributeType.GRAPH, g: a.graph.proto() }
            : encodeAttr(name, a),
        ),
      })),
      initializer,
      input: this.inputs.map(valueInfo),
      output: this.outputs.map(valueInfo),
    };
  }
}

function encodeAttr(name: string, a: Exclude<AttrValue, { graph: Graph }>): Record<string, unknown> {
  const A = onnx.AttributeProto.AttributeType;
  if (typeof a === 'number') return { name, type: A.INT, i: a };
  if (typeof a === 'string') return { name, type: A.STRING, s: new TextEncoder().encode(a) };
  if (Array.isArray(a)) return { name, type: A.INTS, ints: a };
  if ('ints' in a) return { name, type: A.INTS, ints: a.ints };
  if ('floats' in a) return { name, type: A.FLOATS, floats: a.floats };
  return { name, type: A.FLOAT, f: a.float };
}
