// Every argument check of the public API, in one place. Each op validates once here, then calls a backend
// that trusts its arguments (the native binding checks lengths again, defensively).
//
// Messages name the function, the argument and what was expected, e.g.
//   normkit.layerNorm: 'weight' must be a Float32Array of length 768 (the normalized size), got length 512

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
export function noOverlap(fn: string, names: readonly string[], arrays: readonly (Float32Array | null)[], outputs: number, inPlace?: readonly [number, number]): void {
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
  if (value === undefined) return 'NCHW';
  if (value !== 'NCHW' && value !== 'NHWC')
    fail(fn, name, "'NCHW' or 'NHWC'", typeof value === 'string' ? `'${value}'` : describe(value), 'type');
  return value;
}

/**
 * Reads a [N, C, *spatial] (NCHW) or [N, *spatial, C] (NHWC) inputShape with C split into numGroups groups
 * (PyTorch's group_norm): C must be a multiple of numGroups. Spatial dims may be none ([N, C]).
 */
export function groupedShape(fn: string, inputShape: unknown, numGroups: unknown, lay: Layout, inputLength: number) {
  const size = shape(fn, 'inputShape', inputShape, { minRank: 2 });
  const dims = inputShape as number[];
  const batch = dims[0];
  const channels = lay === 'NCHW' ? dims[1] : dims[dims.length - 1];
  const spatial = lay === 'NCHW' ? dims.slice(2) : dims.slice(1, -1);
  if (typeof numGroups !== 'number') fail(fn, 'numGroups', 'a number', describe(numGroups), 'type');
  if (!Number.isInteger(numGroups) || numGroups < 1)
    fail(fn, 'numGroups', 'a positive integer', String(numGroups), 'range');
  if (channels % numGroups !== 0)
    fail(fn, 'numGroups', `a divisor of the channel count ${channels} (inputShape[${lay === 'NCHW' ? 1 : dims.length - 1}], layout ${lay})`,
      String(numGroups), 'range');
  if (size !== inputLength)
    fail(fn, 'input', `a Float32Array of length ${size} (the product of inputShape)`, `length ${inputLength}`, 'range');
  return { batch, channels, spatial: spatial.reduce((a, b) => a * b, 1), groups: numGroups, channelsLast: lay === 'NHWC' };
}
