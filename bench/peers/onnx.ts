// onnxruntime-node as a peer: single-op ONNX models that this file writes itself. ONNX models are protobuf
// messages; the few fields a one-node graph needs are encoded here by hand (field numbers from onnx.proto).
import type { Arrays, PeerCase } from '../registry';

// ---- protobuf wire format -------------------------------------------------------------------------------
type Bytes = number[];

function varint(out: Bytes, value: number): void {
  // Non-negative integers below 2^53 (all this encoder writes).
  let v = value;
  while (v >= 0x80) { out.push((v % 0x80) | 0x80); v = Math.floor(v / 0x80); }
  out.push(v);
}
function tag(out: Bytes, field: number, wire: 0 | 2 | 5): void { varint(out, field * 8 + wire); }

/** A message: a list of encoded fields. */
export class Message {
  readonly bytes: Bytes = [];
  int(field: number, value: number): this { tag(this.bytes, field, 0); varint(this.bytes, value); return this; }
  float(field: number, value: number): this {
    tag(this.bytes, field, 5);
    const b = new Uint8Array(new Float32Array([value]).buffer);
    this.bytes.push(...b);
    return this;
  }
  string(field: number, value: string): this { return this.raw(field, [...Buffer.from(value, 'utf8')]); }
  message(field: number, m: Message): this { return this.raw(field, m.bytes); }
  private raw(field: number, data: Bytes): this {
    tag(this.bytes, field, 2);
    varint(this.bytes, data.length);
    for (const b of data) this.bytes.push(b);
    return this;
  }
  toUint8Array(): Uint8Array { return Uint8Array.from(this.bytes); }
}

// ---- ONNX messages --------------------------------------------------------------------------------------
const FLOAT = 1; // TensorProto.DataType.FLOAT
const ATTR_FLOAT = 1, ATTR_INT = 2; // AttributeProto.AttributeType

/** ValueInfoProto of a float tensor with fixed dims. */
function tensorInfo(name: string, dims: readonly number[]): Message {
  const shape = new Message();
  for (const d of dims) shape.message(1, new Message().int(1, d)); // TensorShapeProto.dim { dim_value }
  const tensorType = new Message().int(1, FLOAT).message(2, shape); // TypeProto.Tensor { elem_type, shape }
  return new Message().string(1, name).message(2, new Message().message(1, tensorType)); // { name, type }
}

export type Attribute = { name: string; float: number } | { name: string; int: number };

export interface OneNodeModel {
  opType: string;
  opset: number;
  inputs: Array<{ name: string; dims: readonly number[] }>;
  outputs: Array<{ name: string; dims: readonly number[] }>;
  attributes: Attribute[];
}

/** A ModelProto holding one node whose inputs are the graph's inputs and whose outputs are its outputs. */
export function encodeModel(m: OneNodeModel): Uint8Array {
  const node = new Message();
  for (const i of m.inputs) node.string(1, i.name);
  for (const o of m.outputs) node.string(2, o.name);
  node.string(3, `${m.opType}_0`).string(4, m.opType);
  for (const a of m.attributes) {
    const attr = new Message().string(1, a.name);
    if ('float' in a) attr.float(2, a.float).int(20, ATTR_FLOAT);
    else attr.int(3, a.int).int(20, ATTR_INT);
    node.message(5, attr);
  }
  const graph = new Message().message(1, node).string(2, `normkit_bench_${m.opType}`);
  for (const i of m.inputs) graph.message(11, tensorInfo(i.name, i.dims));
  for (const o of m.outputs) graph.message(12, tensorInfo(o.name, o.dims));
  const model = new Message()
    .int(1, 8) // ir_version 8 (ONNX 1.13+)
    .string(2, 'normkit-bench')
    .message(7, graph)
    .message(8, new Message().string(1, '').int(2, m.opset)); // opset_import { domain: '', version }
  return model.toUint8Array();
}

// ---- running a model ------------------------------------------------------------------------------------
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Ort = any;

export interface OrtFeed { name: string; dims: readonly number[]; data: Float32Array }

/**
 * A peer case running a one-node model with onnxruntime, on `threads` intra-op threads. `results` maps the
 * model's output names to the op's result names (Y -> output).
 */
export async function ortCase(ort: Ort, model: Omit<OneNodeModel, 'inputs'>, feeds: OrtFeed[],
  results: Record<string, string>, threads = 1): Promise<PeerCase> {
  const bytes = encodeModel({ ...model, inputs: feeds.map((f) => ({ name: f.name, dims: f.dims })) });
  const session = await ort.InferenceSession.create(bytes, {
    intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
  });
  const tensors: Record<string, unknown> = {};
  for (const f of feeds) tensors[f.name] = new ort.Tensor('float32', f.data, [...f.dims]);
  return {
    async run(): Promise<Arrays> {
      const out = await session.run(tensors);
      const named: Arrays = {};
      for (const [onnxName, ourName] of Object.entries(results)) named[ourName] = out[onnxName].data as Float32Array;
      return named;
    },
    dispose() { void session.release?.(); },
  };
}

/** LayerNormalization (opset 17) over the last axis: outputs Y, Mean, InvStdDev. */
export function ortLayerNorm(ort: Ort, x: Float32Array, dims: readonly number[], weight: Float32Array, bias: Float32Array, eps: number, threads = 1): Promise<PeerCase> {
  const cols = dims[dims.length - 1];
  const statDims = [...dims.slice(0, -1), 1];
  return ortCase(ort, {
    opType: 'LayerNormalization', opset: 17,
    outputs: [{ name: 'Y', dims }, { name: 'Mean', dims: statDims }, { name: 'InvStdDev', dims: statDims }],
    attributes: [{ name: 'axis', int: dims.length - 1 }, { name: 'epsilon', float: eps }],
  }, [{ name: 'X', dims, data: x }, { name: 'Scale', dims: [cols], data: weight }, { name: 'B', dims: [cols], data: bias }],
  { Y: 'output', Mean: 'mean', InvStdDev: 'rstd' }, threads);
}

/** RMSNormalization (opset 23) over the last axis. onnxruntime releases before opset 23 reject the model. */
export function ortRmsNorm(ort: Ort, x: Float32Array, dims: readonly number[], weight: Float32Array, eps: number, threads = 1): Promise<PeerCase> {
  const cols = dims[dims.length - 1];
  return ortCase(ort, {
    opType: 'RMSNormalization', opset: 23,
    outputs: [{ name: 'Y', dims }],
    attributes: [{ name: 'axis', int: dims.length - 1 }, { name: 'epsilon', float: eps }],
  }, [{ name: 'X', dims, data: x }, { name: 'scale', dims: [cols], data: weight }], { Y: 'output' }, threads);
}

/**
 * BatchNormalization (opset 15) in inference mode over NCHW input (channels at axis 1): normalizes with the
 * given running statistics.
 */
export function ortBatchNormInference(ort: Ort, x: Float32Array, dims: readonly number[], weight: Float32Array, bias: Float32Array,
  runningMean: Float32Array, runningVar: Float32Array, eps: number, threads = 1): Promise<PeerCase> {
  const c = dims[1];
  return ortCase(ort, {
    opType: 'BatchNormalization', opset: 15,
    outputs: [{ name: 'Y', dims }],
    attributes: [{ name: 'epsilon', float: eps }],
  }, [{ name: 'X', dims, data: x }, { name: 'scale', dims: [c], data: weight }, { name: 'B', dims: [c], data: bias },
    { name: 'input_mean', dims: [c], data: runningMean }, { name: 'input_var', dims: [c], data: runningVar }],
  { Y: 'output' }, threads);
}
