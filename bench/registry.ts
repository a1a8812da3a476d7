// THE list of benchmarked ops: one entry per op says which shapes it runs on, how to make its inputs, how
// to call it (into preallocated outputs, and allocating as a naive user would), how many bytes it must move
// at least, how to compare its results, and how peers compute the same thing. The runner, the reports and
// the chart know nothing else about ops: a new op is one more entry in OPS.
import * as nk from '../src/index';
import { type PeerName, UsageError } from './args';
import type { Rng } from './data';
import { tfjsBatchNorm, tfjsLayerNorm, tfjsLayerNormBackward, tfjsRmsNorm, tfjsRmsNormBackward } from './peers/tfjs';
import { ortBatchNormInference, ortLayerNorm, ortRmsNorm } from './peers/onnx';
import { elementCount, nchw, rowsCols, type Layout, type ParsedShape } from './shapes';

export type Arrays = Record<string, Float32Array | Float64Array>;

/** A peer library's version of an op on given inputs, ready to run repeatedly. */
export interface PeerCase {
  /** Computes the op; returns the results named as the op's (a subset of them is enough). */
  run(): Arrays | Promise<Arrays>;
  dispose?(): void;
}

export interface PeerContext {
  /** Threads the peer may use (1 unless --threads asks for more). */
  threads: number;
}

export interface OpEntry<I, O extends Arrays> {
  /** The package's function name (layerNorm, layerNormBackward, ...): what --ops selects. */
  name: string;
  /** LayerNorm, RMSNorm, BatchNorm, GroupNorm: groups ops in reports. */
  family: string;
  /** forward, backward, or a variant such as 'training forward'. */
  pass: string;
  /** Shapes per mode, in parseShape() syntax. */
  shapes: { quick: string[]; default: string[]; full: string[] };
  /** Layouts this op accepts (others given with --shapes are skipped with a note). */
  layouts: Layout[];
  /** Inputs for one shape. Runs with the TypeScript backend active (saved statistics come from it). */
  build(shape: ParsedShape, rand: Rng): I;
  /** Preallocated outputs for `call`. */
  allocate(inputs: I): O;
  /** The op writing into preallocated outputs. */
  call(inputs: I, out: O): void;
  /** The op as a naive user calls it: outputs allocated by the package. */
  callAllocating(inputs: I): unknown;
  /** The least bytes the op must read and write (each input once, each output once). */
  bytes(inputs: I): number;
  /** Largest accepted max|got - ref| / max|ref| of each result against the TypeScript backend's. */
  tolerance: number;
  /** For ops whose rows are independent: the row count and the async op over rows [start, end). */
  rowSlices?: { rows(inputs: I): number; call(inputs: I, out: O, start: number, end: number): Promise<unknown> };
  /** Peer implementations: given the loaded library, the op on the same inputs. */
  peers?: Partial<Record<PeerName, (lib: unknown, inputs: I, ctx: PeerContext) => PeerCase | Promise<PeerCase>>>;
  /** Said next to the op's results (e.g. what a peer's version includes). */
  note?: string;
}

/** An entry with its types erased, as the runner sees it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyOpEntry = OpEntry<any, Arrays>;

export function defineOp<I, O extends Arrays>(entry: OpEntry<I, O>): AnyOpEntry {
  return entry as unknown as AnyOpEntry;
}

/** Worst max|got - ref| / max|ref| over the results both have (NaN and missing results are failures). */
export function compareResults(ref: Arrays, got: Arrays): { error: number; compared: string[]; problem: string | null } {
  let error = 0;
  const compared: string[] = [];
  for (const [name, r] of Object.entries(ref)) {
    const g = got[name];
    if (g === undefined) continue;
    if (g.length !== r.length) return { error: Infinity, compared, problem: `'${name}' has length ${g.length}, expected ${r.length}` };
    let diff = 0, scale = 0, nan = false;
    for (let i = 0; i < r.length; i++) {
      const d = Math.abs(g[i] - r[i]);
      if (d > diff) diff = d;
      else if (Number.isNaN(d) && !Number.isNaN(r[i])) nan = true; // a NaN where the reference has a number
      const a = Math.abs(r[i]);
      if (a > scale) scale = a;
    }
    error = nan ? Infinity : Math.max(error, diff / Math.max(scale, 1e-30));
    compared.push(name);
  }
  if (compared.length === 0) return { error: Infinity, compared, problem: 'no result in common with the reference' };
  return { error, compared, problem: null };
}

const F32 = 4;

// ---- LayerNorm / RMSNorm: rows x cols, normalized over the last dim -----------------------------------
const ROW_SHAPES = {
  quick: ['4096x768', '64x65536', '1x768'],
  default: ['4096x768', '8192x1024', '512x4096', '64x65536', '1x768'],
  full: ['4096x768', '8192x1024', '512x4096', '64x65536', '1x768', '32768x768', '256x16384', '16x768'],
};

interface RowInputs {
  dims: number[];
  rows: number;
  cols: number;
  n: number;
  x: Float32Array;
  weight: Float32Array;
  bias: Float32Array;
  eps: number;
}

function rowInputs(shape: ParsedShape, rand: Rng, eps: number): RowInputs {
  const { rows, cols } = rowsCols(shape);
  const n = elementCount(shape);
  // Offset data (mean 3, spread 2): the statistics must be centred to pass the check everywhere.
  return { dims: shape.dims, rows, cols, n, x: rand.normals(n, 3, 2), weight: rand.normals(cols, 1, 0.2), bias: rand.normals(cols, 0, 0.2), eps };
}

const rowSliceOf = (i: RowInputs, a: Float32Array, start: number, end: number) => a.subarray(start * i.cols, end * i.cols);

const layerNormForward = defineOp<RowInputs, { output: Float32Array; mean: Float32Array; rstd: Float32Array }>({
  name: 'layerNorm', family: 'LayerNorm', pass: 'forward', shapes: ROW_SHAPES, layouts: ['rows'],
  build: (shape, rand) => rowInputs(shape, rand, 1e-5),
  allocate: (i) => ({ output: new Float32Array(i.n), mean: new Float32Array(i.rows), rstd: new Float32Array(i.rows) }),
  call: (i, out) => { nk.layerNorm(i.x, i.dims, i.cols, { weight: i.weight, bias: i.bias, eps: i.eps, out }); },
  callAllocating: (i) => nk.layerNorm(i.x, i.dims, i.cols, { weight: i.weight, bias: i.bias, eps: i.eps }),
  bytes: (i) => F32 * (2 * i.n + 2 * i.cols + 2 * i.rows),
  tolerance: 1e-5,
  rowSlices: {
    rows: (i) => i.rows,
    call: (i, out, start, end) => nk.layerNormAsync(rowSliceOf(i, i.x, start, end), [end - start, i.cols], i.cols, {
      weight: i.weight, bias: i.bias, eps: i.eps,
      out: { output: rowSliceOf(i, out.output, start, end), mean: out.mean.subarray(start, end), rstd: out.rstd.subarray(start, end) },
    }),
  },
  peers: {
    tfjs: (tf, i) => tfjsLayerNorm(tf, i.x, i.dims, i.weight, i.bias, i.eps),
    onnxruntime: (ort, i, ctx) => ortLayerNorm(ort, i.x, i.dims, i.weight, i.bias, i.eps, ctx.threads),
  },
});

interface RowBackwardInputs extends RowInputs {
  dy: Float32Array;
  mean: Float32Array;
  rstd: Float32Array;
}

const layerNormBackward = defineOp<RowBackwardInputs, { gradInput: Float32Array; gradWeight: Float32Array; gradBias: Float32Array }>({
  name: 'layerNormBackward', family: 'LayerNorm', pass: 'backward', shapes: ROW_SHAPES, layouts: ['rows'],
  build: (shape, rand) => {
    const i = rowInputs(shape, rand, 1e-5);
    const { mean, rstd } = nk.layerNorm(i.x, i.dims, i.cols, { weight: i.weight, bias: i.bias, eps: i.eps });
    return { ...i, dy: rand.normals(i.n), mean, rstd };
  },
  allocate: (i) => ({ gradInput: new Float32Array(i.n), gradWeight: new Float32Array(i.cols), gradBias: new Float32Array(i.cols) }),
  call: (i, out) => { nk.layerNormBackward(i.dy, i.x, i.dims, i.cols, { mean: i.mean, rstd: i.rstd, weight: i.weight, out }); },
  callAllocating: (i) => nk.layerNormBackward(i.dy, i.x, i.dims, i.cols, { mean: i.mean, rstd: i.rstd, weight: i.weight }),
  bytes: (i) => F32 * (3 * i.n + 2 * i.rows + 3 * i.cols),
  tolerance: 1e-4,
  peers: {
    tfjs: (tf, i) => tfjsLayerNormBackward(tf, i.dy, i.x, i.dims, i.weight, i.bias, i.eps),
  },
  note: 'tfjs computes its backward with tf.grads, which recomputes the forward (it keeps no saved statistics)',
});

const rmsNormForward = defineOp<RowInputs, { output: Float32Array; rstd: Float32Array }>({
  name: 'rmsNorm', family: 'RMSNorm', pass: 'forward', shapes: ROW_SHAPES, layouts: ['rows'],
  build: (shape, rand) => rowInputs(shape, rand, 1e-6),
  allocate: (i) => ({ output: new Float32Array(i.n), rstd: new Float32Array(i.rows) }),
  call: (i, out) => { nk.rmsNorm(i.x, i.dims, i.cols, { weight: i.weight, eps: i.eps, out }); },
  callAllocating: (i) => nk.rmsNorm(i.x, i.dims, i.cols, { weight: i.weight, eps: i.eps }),
  bytes: (i) => F32 * (2 * i.n + i.cols + i.rows),
  tolerance: 1e-5,
  rowSlices: {
    rows: (i) => i.rows,
    call: (i, out, start, end) => nk.rmsNormAsync(rowSliceOf(i, i.x, start, end), [end - start, i.cols], i.cols, {
      weight: i.weight, eps: i.eps, out: { output: rowSliceOf(i, out.output, start, end), rstd: out.rstd.subarray(start, end) },
    }),
  },
  peers: {
    tfjs: (tf, i) => tfjsRmsNorm(tf, i.x, i.dims, i.weight, i.eps),
    onnxruntime: (ort, i, ctx) => ortRmsNorm(ort, i.x, i.dims, i.weight, i.eps, ctx.threads),
  },
});

const rmsNormBackward = defineOp<RowBackwardInputs, { gradInput: Float32Array; gradWeight: Float32Array }>({
  name: 'rmsNormBackward', family: 'RMSNorm', pass: 'backward', shapes: ROW_SHAPES, layouts: ['rows'],
  build: (shape, rand) => {
    const i = rowInputs(shape, rand, 1e-6);
    const { rstd } = nk.rmsNorm(i.x, i.dims, i.cols, { weight: i.weight, eps: i.eps });
    return { ...i, dy: rand.normals(i.n), mean: new Float32Array(0), rstd };
  },
  allocate: (i) => ({ gradInput: new Float32Array(i.n), gradWeight: new Float32Array(i.cols) }),
  call: (i, out) => { nk.rmsNormBackward(i.dy, i.x, i.dims, i.cols, { rstd: i.rstd, weight: i.weight, out }); },
  callAllocating: (i) => nk.rmsNormBackward(i.dy, i.x, i.dims, i.cols, { rstd: i.rstd, weight: i.weight }),
  bytes: (i) => F32 * (3 * i.n + i.rows + 2 * i.cols),
  tolerance: 1e-4,
  peers: {
    tfjs: (tf, i) => tfjsRmsNormBackward(tf, i.dy, i.x, i.dims, i.weight, i.eps),
  },
  note: 'tfjs computes its backward with tf.grads, which recomputes the forward',
});

// ---- BatchNorm / GroupNorm -------------------------------------------------------------------------------
const bnLayout = (i: { channelsLast: boolean; dims: number[] }) => (i.channelsLast && i.dims.length > 2 ? 'NHWC' : 'NCHW') as 'NCHW' | 'NHWC';

const CHANNEL_SHAPES = {
  quick: ['nchw:8x256x28x28', '256x512'],
  default: ['nchw:32x64x56x56', 'nchw:8x256x28x28', 'nhwc:32x56x56x64', 'nhwc:8x28x28x256', '256x512'],
  full: ['nchw:32x64x56x56', 'nchw:8x256x28x28', 'nhwc:32x56x56x64', 'nhwc:8x28x28x256', '256x512', '8192x1024'],
};

interface ChannelInputs {
  dims: number[];
  channelsLast: boolean;
  n: number;
  c: number;
  x: Float32Array;
  weight: Float32Array;
  bias: Float32Array;
  runningMean: Float32Array;
  runningVar: Float32Array;
  eps: number;
}

function channelInputs(shape: ParsedShape, rand: Rng): ChannelInputs {
  const { c } = nchw(shape.dims.length === 2 ? { ...shape, layout: 'nhwc' } : shape);
  const n = elementCount(shape);
  return {
    dims: shape.dims, channelsLast: shape.layout !== 'nchw', n, c, x: rand.normals(n, 3, 2),
    weight: rand.normals(c, 1, 0.2), bias: rand.normals(c, 0, 0.2),
    runningMean: rand.normals(c, 3, 0.1), runningVar: rand.uniforms(c, 3, 5), eps: 1e-5,
  };
}
// 2-D input [N, C] is both layouts: channels are the last axis (PyTorch's BatchNorm1d).
const tfChannelsLast = (i: ChannelInputs) => i.channelsLast || i.dims.length === 2;

interface BatchNormOut extends Arrays { output: Float32Array; saveMean: Float64Array; saveInvstd: Float32Array }

const batchNormTraining = defineOp<ChannelInputs, BatchNormOut>({
  name: 'batchNormTraining', family: 'BatchNorm', pass: 'training forward', shapes: CHANNEL_SHAPES, layouts: ['rows', 'nchw', 'nhwc'],
  // Running statistics are updated in place by training: each call gets the same fresh copies would
  // cost a copy per call, so the benchmark lets them drift (the output does not depend on them).
  build: (shape, rand) => channelInputs(shape, rand),
  allocate: (i) => ({ output: new Float32Array(i.n), saveMean: new Float64Array(i.c), saveInvstd: new Float32Array(i.c) }),
  call: (i, out) => {
    nk.batchNorm(i.x, i.dims, { weight: i.weight, bias: i.bias, runningMean: i.runningMean, runningVar: i.runningVar, training: true, eps: i.eps, layout: bnLayout(i), out });
  },
  callAllocating: (i) => nk.batchNorm(i.x, i.dims, { weight: i.weight, bias: i.bias, runningMean: i.runningMean, runningVar: i.runningVar, training: true, eps: i.eps, layout: bnLayout(i) }),
  // Two reads of x are needed (statistics, then normalize) unless it stays in cache: the minimum is one.
  bytes: (i) => F32 * (2 * i.n + 8 * i.c),
  tolerance: 1e-5,
  peers: { tfjs: (tf, i) => tfjsBatchNorm(tf, i.x, i.dims, tfChannelsLast(i), i.weight, i.bias, i.eps, null) },
});

const batchNormInference = defineOp<ChannelInputs, BatchNormOut>({
  name: 'batchNormInference', family: 'BatchNorm', pass: 'inference forward', shapes: CHANNEL_SHAPES, layouts: ['rows', 'nchw', 'nhwc'],
  build: (shape, rand) => channelInputs(shape, rand),
  // Every output, the saved statistics too (inference reports the running ones there): left out, they were
  // allocated on every call, 1.5 us of the 16 at [256,512].
  allocate: (i) => ({ output: new Float32Array(i.n), saveMean: new Float64Array(i.c), saveInvstd: new Float32Array(i.c) }),
  call: (i, out) => {
    nk.batchNorm(i.x, i.dims, { weight: i.weight, bias: i.bias, runningMean: i.runningMean, runningVar: i.runningVar, training: false, eps: i.eps, layout: bnLayout(i), out });
  },
  callAllocating: (i) => nk.batchNorm(i.x, i.dims, { weight: i.weight, bias: i.bias, runningMean: i.runningMean, runningVar: i.runningVar, training: false, eps: i.eps, layout: bnLayout(i) }),
  bytes: (i) => F32 * (2 * i.n + 4 * i.c),
  tolerance: 1e-5,
  peers: {
    tfjs: (tf, i) => tfjsBatchNorm(tf, i.x, i.dims, tfChannelsLast(i), i.weight, i.bias, i.eps, { mean: i.runningMean, var: i.runningVar }),
    // ONNX BatchNormalization wants channels at axis 1: NCHW, or [N, C].
    onnxruntime: (ort, i, ctx) => {
      if (i.channelsLast && i.dims.length > 2) throw new Error('ONNX BatchNormalization takes channels-first input only');
      return ortBatchNormInference(ort, i.x, i.dims, i.weight, i.bias, i.runningMean, i.runningVar, i.eps, ctx.threads);
    },
  },
});

interface ChannelBackwardInputs extends ChannelInputs { dy: Float32Array; saveMean: Float64Array; saveInvstd: Float32Array }

const batchNormBackward = defineOp<ChannelBackwardInputs, { gradInput: Float32Array; gradWeight: Float32Array; gradBias: Float32Array }>({
  name: 'batchNormBackward', family: 'BatchNorm', pass: 'training backward', shapes: CHANNEL_SHAPES, layouts: ['rows', 'nchw', 'nhwc'],
  build: (shape, rand) => {
    const i = channelInputs(shape, rand);
    const { saveMean, saveInvstd } = nk.batchNorm(i.x, i.dims, { weight: i.weight, bias: i.bias, training: true, eps: i.eps, layout: bnLayout(i) });
    return { ...i, dy: rand.normals(i.n), saveMean, saveInvstd };
  },
  allocate: (i) => ({ gradInput: new Float32Array(i.n), gradWeight: new Float32Array(i.c), gradBias: new Float32Array(i.c) }),
  call: (i, out) => {
    nk.batchNormBackward(i.dy, i.x, i.dims, { saveMean: i.saveMean, saveInvstd: i.saveInvstd, weight: i.weight, layout: bnLayout(i), out });
  },
  callAllocating: (i) => nk.batchNormBackward(i.dy, i.x, i.dims, { saveMean: i.saveMean, saveInvstd: i.saveInvstd, weight: i.weight, layout: bnLayout(i) }),
  bytes: (i) => F32 * (3 * i.n + 5 * i.c),
  tolerance: 1e-4,
});

const GROUP_SHAPES = {
  quick: ['nchw:8x256x28x28/g32'],
  default: ['nchw:8x256x28x28/g32', 'nhwc:8x28x28x256/g32', 'nchw:32x64x56x56/g32'],
  full: ['nchw:8x256x28x28/g32', 'nhwc:8x28x28x256/g32', 'nchw:32x64x56x56/g32', 'nhwc:32x56x56x64/g32', 'nchw:1x512x64x64/g32'],
};
const groupLayout = (i: ChannelInputs) => (i.channelsLast ? 'NHWC' : 'NCHW') as 'NCHW' | 'NHWC';

interface GroupInputs extends ChannelInputs { groups: number; dy: Float32Array; mean: Float32Array; rstd: Float32Array }

function groupInputs(shape: ParsedShape, rand: Rng, backward: boolean): GroupInputs {
  const i = channelInputs(shape, rand);
  const groups = shape.groups ?? 32;
  if (!backward) return { ...i, groups, dy: new Float32Array(0), mean: new Float32Array(0), rstd: new Float32Array(0) };
  const { mean, rstd } = nk.groupNorm(i.x, i.dims, groups, { weight: i.weight, bias: i.bias, eps: i.eps, layout: groupLayout(i) });
  return { ...i, groups, dy: rand.normals(i.n), mean, rstd };
}

const groupNormForward = defineOp<GroupInputs, { output: Float32Array; mean: Float32Array; rstd: Float32Array }>({
  name: 'groupNorm', family: 'GroupNorm', pass: 'forward', shapes: GROUP_SHAPES, layouts: ['nchw', 'nhwc'],
  build: (shape, rand) => groupInputs(shape, rand, false),
  allocate: (i) => ({ output: new Float32Array(i.n), mean: new Float32Array(i.dims[0] * i.groups), rstd: new Float32Array(i.dims[0] * i.groups) }),
  call: (i, out) => { nk.groupNorm(i.x, i.dims, i.groups, { weight: i.weight, bias: i.bias, eps: i.eps, layout: groupLayout(i), out }); },
  callAllocating: (i) => nk.groupNorm(i.x, i.dims, i.groups, { weight: i.weight, bias: i.bias, eps: i.eps, layout: groupLayout(i) }),
  bytes: (i) => F32 * (2 * i.n + 2 * i.c + 2 * i.dims[0] * i.groups),
  tolerance: 1e-5,
});

const groupNormBackward = defineOp<GroupInputs, { gradInput: Float32Array; gradWeight: Float32Array; gradBias: Float32Array }>({
  name: 'groupNormBackward', family: 'GroupNorm', pass: 'backward', shapes: GROUP_SHAPES, layouts: ['nchw', 'nhwc'],
  build: (shape, rand) => groupInputs(shape, rand, true),
  allocate: (i) => ({ gradInput: new Float32Array(i.n), gradWeight: new Float32Array(i.c), gradBias: new Float32Array(i.c) }),
  call: (i, out) => { nk.groupNormBackward(i.dy, i.x, i.dims, i.groups, { mean: i.mean, rstd: i.rstd, weight: i.weight, layout: groupLayout(i), outputMask: [true, true, true], out }); },
  callAllocating: (i) => nk.groupNormBackward(i.dy, i.x, i.dims, i.groups, { mean: i.mean, rstd: i.rstd, weight: i.weight, layout: groupLayout(i), outputMask: [true, true, true] }),
  bytes: (i) => F32 * (3 * i.n + 3 * i.c + 2 * i.dims[0] * i.groups),
  tolerance: 1e-4,
});

/** Every op, in report order. */
export const OPS: readonly AnyOpEntry[] = [
  layerNormForward, layerNormBackward, rmsNormForward, rmsNormBackward,
  batchNormTraining, batchNormInference, batchNormBackward, groupNormForward, groupNormBackward,
];

/** The ops a list of selectors picks: exact names, or prefixes ending in '*', case-insensitive. */
export function selectOps(selectors: readonly string[] | null, ops: readonly AnyOpEntry[] = OPS): AnyOpEntry[] {
  if (!selectors) return [...ops];
  const picked = new Set<AnyOpEntry>();
  for (const sel of selectors) {
    const s = sel.toLowerCase();
    // The exact name first (layerNorm: the forward op), then a family (LayerNorm, layernorm: forward and
    // backward), then a name in any case (rmsnormbackward); a trailing * matches name prefixes.
    let matches = s.endsWith('*')
      ? ops.filter((op) => op.name.toLowerCase().startsWith(s.slice(0, -1)))
      : ops.filter((op) => op.name === sel);
    if (matches.length === 0) matches = ops.filter((op) => op.family.toLowerCase() === s);
    if (matches.length === 0) matches = ops.filter((op) => op.name.toLowerCase() === s);
    if (matches.length === 0)
      throw new UsageError(`--ops: no op is called '${sel}' (known: ${ops.map((o) => o.name).join(', ')}; a family name such as LayerNorm, or a prefix with *)`);
    for (const m of matches) picked.add(m);
  }
  return ops.filter((op) => picked.has(op));
}
