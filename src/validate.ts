// Every argument check of the public API, in one place. Each op validates once here, then calls a backend
// that trusts its arguments (the native binding checks lengths again, defensively).
//
// Messages name the function, the argument and what was expected, e.g.
//   normkit.layerNorm: 'weight' must be a Float32Array of length 768 (the normalized size), got length 512

import { dataOutput as newDataOutput } from './alloc';
import { nativeChecksArguments } from './backend';

export type Shape = readonly number[];

const MAX_SIZE = Number.MAX_SAFE_INTEGER; // 2^53 - 1

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an Array';
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  return `a ${typeof value}`;
}

function fail(fn: string, name: string, expected: string, got: string, kind: 'type' | 'range'): never {
  const message = `normkit.${fn}: '${name}' must be ${expected}, got ${got}`;
  throw kind === 'type' ? new TypeError(message) : new RangeError(message);
}

/** A Float32Array of any length (checked against a shape later). */
export function anyFloat32(fn: string, name: string, value: unknown): Float32Array {
  if (!(value instanceof Float32Array)) fail(fn, name, 'a Float32Array', describe(value), 'type');
  return value;
}

/** A Float32Array of exactly `length` elements. `what` explains the length ("the normalized size"). */
export function float32(fn: string, name: string, value: unknown, length: number, what: string): Float32Array {
  if (!(value instanceof Float32Array)) fail(fn, name, 'a Float32Array', describe(value), 'type');
  if (value.length !== length) {
    const detached = value.buffer.byteLength === 0 && length > 0;
    fail(fn, name, `a Float32Array of length ${length} (${what})`,
      detached ? 'a detached (transferred) buffer' : `length ${value.length}`, 'range');
  }
  return value;
}

/** Like float32(), but null and undefined mean "not given". */
export function optionalFloat32(fn: string, name: string, value: unknown, length: number, what: string): Float32Array | null {
  if (value === null || value === undefined) return null;
  return float32(fn, name, value, length, what);
}

/**
 * The caller's buffer for an output as long as the input (output, gradInput) if given (checked), else a new
 * one, not zero-filled when large (see alloc.ts): only for outputs that every backend writes in full.
 */
export function dataOutput(fn: string, name: string, given: unknown, length: number, what: string): Float32Array {
  if (given === undefined || given === null) return newDataOutput(length);
  return float32(fn, name, given, length, what);
}

/** The caller's output buffer if given (checked), else a new zeroed one. */
export function output(fn: string, name: string, given: unknown, length: number, what: string): Float32Array {
  if (given === undefined || given === null) return new Float32Array(length);
  return float32(fn, name, given, length, what);
}

/** A list of dimensions: non-negative integers whose product stays below 2^53. Returns the product. */
export function shape(fn: string, name: string, value: unknown, options: { minRank?: number } = {}): number {
  if (!Array.isArray(value)) fail(fn, name, 'an array of dimensions', describe(value), 'type');
  const minRank = options.minRank ?? 1;
  if (value.length < minRank) fail(fn, name, `at least ${minRank} dimension(s)`, `[${value.join(', ')}]`, 'range');
  let size = 1;
  for (let i = 0; i < value.length; i++) {
    const d: unknown = value[i];
    if (typeof d !== 'number') fail(fn, `${name}[${i}]`, 'a number', describe(d), 'type');
    if (!Number.isInteger(d) || d < 0) fail(fn, `${name}[${i}]`, 'a non-negative integer', String(d), 'range');
    size *= d;
    if (size > MAX_SIZE) fail(fn, name, 'a shape of fewer than 2^53 elements', `[${value.join(', ')}]`, 'range');
  }
  return size;
}

/**
 * Splits inputShape into rows x cols where cols covers the trailing normalizedShape, as PyTorch's
 * layer_norm(input, normalized_shape) does. normalizedShape may be a number (one trailing dim).
 */
export function rowsByTrailing(fn: string, inputShape: unknown, normalizedShape: unknown, inputLength: number): { rows: number; cols: number } {
  const size = shape(fn, 'inputShape', inputShape);
  let cols: number;
  const ins = inputShape as number[];
  if (typeof normalizedShape === 'number') {
    cols = normalizedShape;
    if (!Number.isInteger(cols) || cols < 1) fail(fn, 'normalizedShape', 'a positive integer', String(cols), 'range');
    if (ins[ins.length - 1] !== cols)
      fail(fn, 'normalizedShape', `the trailing dimensions of inputShape [${ins.join(', ')}]`, String(cols), 'range');
  } else {
    cols = shape(fn, 'normalizedShape', normalizedShape);
    const ns = normalizedShape as number[];
    if (cols === 0) fail(fn, 'normalizedShape', 'dimensions of at least 1', `[${ns.join(', ')}]`, 'range');
    let matches = ns.length <= ins.length;
    for (let i = 0; matches && i < ns.length; i++) matches = ins[ins.length - ns.length + i] === ns[i];
    if (!matches)
      fail(fn, 'normalizedShape', `the trailing dimensions of inputShape [${ins.join(', ')}]`, `[${ns.join(', ')}]`, 'range');
  }
  if (size !== inputLength)
    fail(fn, 'input', `a Float32Array of length ${size} (the product of inputShape)`, `length ${inputLength}`, 'range');
  return { rows: size / cols, cols };
}

/** eps and the like: a finite number >= 0. */
export function nonNegative(fn: string, name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') fail(fn, name, 'a number', describe(value), 'type');
  if (!(value >= 0) || !Number.isFinite(value)) fail(fn, name, 'a finite number >= 0', String(value), 'range');
  return value;
}

/** A boolean option. */
export function flag(fn: string, name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') fail(fn, name, 'a boolean', describe(value), 'type');
  return value;
}

/** A tuple of booleans such as PyTorch's output_mask. */
export function mask<N extends number>(fn: string, name: string, value: unknown, n: N, fallback: boolean[]): boolean[] {
  if (value === undefined) return fallback;
  if (!Array.isArray(value) || value.length !== n || value.some((v) => typeof v !== 'boolean'))
    fail(fn, name, `an array of ${n} booleans`, Array.isArray(value) ? `[${value.join(', ')}]` : describe(value), 'type');
  return value as boolean[];
}

/** An options object (or undefined). */
export function options<T extends object>(fn: string, value: unknown): Partial<T> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value) || ArrayBuffer.isView(value))
    fail(fn, 'options', 'an object', describe(value), 'type');
  return value as Partial<T>;
}

/**
 * Outputs must not share memory with any other argument, except an output that is exactly the input it may
 * replace (in place). Anything else would read values the op has already overwritten.
 * `names[i]` names `arrays[i]`; the first `outputs` entries are the outputs; `inPlace` = [output, input]
 * indices of the one allowed exact alias. (Arrays, not objects: this runs on every call.)
 */
export function noOverlap(fn: string, names: readonly string[], arrays: readonly (Float32Array | Float64Array | null)[], outputs: number, inPlace?: readonly [number, number]): void {
  // Reading each array's .buffer costs more than every other check of a small call put together, and the
  // native binding makes this same check (same names, same message) before any kernel runs: so here it
  // runs only for the TypeScript backend.
  if (nativeChecksArguments()) return;
  for (let i = 0; i < outputs; i++) {
    const o = arrays[i];
    if (!o || o.byteLength === 0) continue;
    const buffer = o.buffer;
    for (let k = 0; k < arrays.length; k++) {
      const b = arrays[k];
      if (k === i || !b || b.byteLength === 0 || b.buffer !== buffer) continue;
      if (!(o.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < o.byteOffset + o.byteLength)) continue;
      const isInPlace = inPlace !== undefined && inPlace[0] === i && inPlace[1] === k;
      if (isInPlace && b.byteOffset === o.byteOffset && b.byteLength === o.byteLength) continue;
      const allowed = inPlace !== undefined && inPlace[0] === i ? ` (except exactly '${names[inPlace[1]]}', in place)` : '';
      throw new RangeError(`normkit.${fn}: '${names[i]}' overlaps '${names[k]}' in memory; outputs must not share memory with other arguments${allowed}`);
    }
  }
}

/** A memory layout of [N, C, *spatial] data: 'NCHW' (channels before spatial) or 'NHWC' (channels last). */
export type Layout = 'NCHW' | 'NHWC';

export function layout(fn: string, name: string, value: unknown): Layout {
  return oneOf(fn, name, value, ['NCHW', 'NHWC'] as const, 'NCHW');
}

// ---- BatchNorm (and anything else with per-channel statistics in double)

/** A Float64Array of exactly `length` elements. */
export function float64(fn: string, name: string, value: unknown, length: number, what: string): Float64Array {
  if (!(value instanceof Float64Array)) fail(fn, name, 'a Float64Array', describe(value), 'type');
  if (value.length !== length) fail(fn, name, `a Float64Array of length ${length} (${what})`, `length ${value.length}`, 'range');
  return value;
}

/** Per-channel means: a Float64Array, or a Float32Array (widened to a new Float64Array). */
export function means(fn: string, name: string, value: unknown, length: number, what: string): Float64Array {
  if (value instanceof Float32Array) return new Float64Array(float32(fn, name, value, length, what));
  if (!(value instanceof Float64Array)) fail(fn, name, 'a Float64Array (or Float32Array)', describe(value), 'type');
  return float64(fn, name, value, length, what);
}

/** The caller's Float64Array output if given (checked), else a new zeroed one. */
export function output64(fn: string, name: string, given: unknown, length: number, what: string): Float64Array {
  if (given === undefined || given === null) return new Float64Array(length);
  return float64(fn, name, given, length, what);
}

/** One of a fixed set of strings. */
export function oneOf<T extends string>(fn: string, name: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !allowed.includes(value as T))
    fail(fn, name, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, typeof value === 'string' ? `'${value}'` : describe(value), typeof value === 'string' ? 'range' : 'type');
  return value as T;
}

/** A number in [lo, hi]. */
export function numberIn(fn: string, name: string, value: unknown, lo: number, hi: number): number {
  if (typeof value !== 'number') fail(fn, name, 'a number', describe(value), 'type');
  if (!(value >= lo && value <= hi)) fail(fn, name, `a number in [${lo}, ${hi}]`, String(value), 'range');
  return value;
}

/** An integer >= min. */
export function integerAtLeast(fn: string, name: string, value: unknown, min: number): number {
  if (typeof value !== 'number') fail(fn, name, 'a number', describe(value), 'type');
  if (!Number.isSafeInteger(value) || value < min) fail(fn, name, `an integer >= ${min}`, String(value), 'range');
  return value;
}

/**
 * A channel-wise op's input shape, listed in memory order: [N, C, *spatial] for 'NCHW', [N, *spatial, C] for
 * 'NHWC' (at least [N, C]). Returns n, c and s = the product of the spatial dims.
 */
export function channelShape(fn: string, inputShape: unknown, inputLength: number, lay: Layout): { n: number; c: number; s: number } {
  const size = shape(fn, 'inputShape', inputShape, { minRank: 2 });
  const dims = inputShape as number[];
  if (size !== inputLength)
    fail(fn, 'input', `a Float32Array of length ${size} (the product of inputShape)`, `length ${inputLength}`, 'range');
  const spatial = lay === 'NCHW' ? dims.slice(2) : dims.slice(1, -1);
  return { n: dims[0], c: lay === 'NCHW' ? dims[1] : dims[dims.length - 1], s: spatial.reduce((a, b) => a * b, 1) };
}

/** channelShape() with C split into numGroups groups (PyTorch's group_norm): C must be a multiple of numGroups. */
export function groupedShape(fn: string, inputShape: unknown, numGroups: unknown, lay: Layout, inputLength: number) {
  const { n, c, s } = channelShape(fn, inputShape, inputLength, lay);
  if (typeof numGroups !== 'number') fail(fn, 'numGroups', 'a number', describe(numGroups), 'type');
  if (!Number.isInteger(numGroups) || numGroups < 1)
    fail(fn, 'numGroups', 'a positive integer', String(numGroups), 'range');
  if (c % numGroups !== 0)
    fail(fn, 'numGroups', `a divisor of the channel count ${c} (inputShape[${lay === 'NCHW' ? 1 : (inputShape as number[]).length - 1}], layout ${lay})`,
      String(numGroups), 'range');
  return { batch: n, channels: c, spatial: s, groups: numGroups, channelsLast: lay === 'NHWC' };
}
