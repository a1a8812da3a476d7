// Shape strings of the command line and the registry: `4096x768` (rows layout: the last dim is normalized,
// the others are rows), `nchw:32x64x56x56`, `nhwc:32x56x56x64`, optionally `/g32` for a group count.
export type Layout = 'rows' | 'nchw' | 'nhwc';

export interface ParsedShape {
  /** The canonical text, as printed in tables and JSON (`nchw:8x256x28x28/g32`). */
  text: string;
  layout: Layout;
  dims: number[];
  /** Number of groups (GroupNorm), when the text gave one. */
  groups?: number;
}

/** Elements the shape holds. */
export function elementCount(shape: ParsedShape): number {
  return shape.dims.reduce((a, b) => a * b, 1);
}

/** Rows layout: rows = product of the leading dims, cols = the last dim. */
export function rowsCols(shape: ParsedShape): { rows: number; cols: number } {
  const cols = shape.dims[shape.dims.length - 1];
  return { rows: elementCount(shape) / cols, cols };
}

/** Channel layouts: batch N, channels C, spatial size HxW (any number of spatial dims). */
export function nchw(shape: ParsedShape): { n: number; c: number; spatial: number } {
  const d = shape.dims;
  if (shape.layout === 'nhwc') return { n: d[0], c: d[d.length - 1], spatial: d.slice(1, -1).reduce((a, b) => a * b, 1) };
  return { n: d[0], c: d[1], spatial: d.slice(2).reduce((a, b) => a * b, 1) };
}

const MAX_ELEMENTS = 2 ** 31 - 1; // typed arrays of this many floats are already 8 GiB

/** Parses one shape; throws an Error that says what is wrong and what is expected. */
export function parseShape(text: string): ParsedShape {
  const original = text;
  const bad = (why: string): never => {
    throw new Error(`bad shape '${original}': ${why}; expected e.g. 4096x768, nchw:32x64x56x56, nhwc:32x56x56x64 or nchw:8x256x28x28/g32`);
  };
  let s = text.trim().toLowerCase();
  let layout: Layout = 'rows';
  const colon = s.indexOf(':');
  if (colon >= 0) {
    const prefix = s.slice(0, colon);
    if (prefix !== 'nchw' && prefix !== 'nhwc' && prefix !== 'rows') bad(`unknown layout '${prefix}' (use nchw, nhwc or rows)`);
    layout = prefix as Layout;
    s = s.slice(colon + 1);
  }
  let groups: number | undefined;
  const slash = s.indexOf('/');
  if (slash >= 0) {
    const g = /^g([0-9]+)$/.exec(s.slice(slash + 1));
    if (!g) bad(`'${s.slice(slash + 1)}' after '/' is not a group count such as g32`);
    groups = Number(g![1]);
    if (groups < 1) bad('the group count must be at least 1');
    s = s.slice(0, slash);
  }
  if (s === '') bad('no dimensions');
  const parts = s.split(/[x×*]/);
  const dims = parts.map((p) => {
    if (!/^[0-9]+$/.test(p)) bad(`'${p}' is not a positive integer`);
    const d = Number(p);
    if (d < 1) bad('every dimension must be at least 1');
    return d;
  });
  if (layout !== 'rows' && dims.length < 3) bad(`${layout} needs at least 3 dimensions (N, C and spatial)`);
  const shape: ParsedShape = { text: '', layout, dims, ...(groups !== undefined ? { groups } : {}) };
  if (elementCount(shape) > MAX_ELEMENTS) bad(`${elementCount(shape)} elements is more than this benchmark allocates`);
  if (groups !== undefined && dims.length > 1 && nchw(shape).c % groups !== 0)
    bad(`${groups} groups do not divide ${nchw(shape).c} channels`);
  shape.text = formatShape(shape);
  return shape;
}

export function formatShape(shape: Omit<ParsedShape, 'text'>): string {
  const prefix = shape.layout === 'rows' ? '' : `${shape.layout}:`;
  const suffix = shape.groups !== undefined ? `/g${shape.groups}` : '';
  return `${prefix}${shape.dims.join('x')}${suffix}`;
}

/** A comma- or space-separated list of shapes (`4096x768,nchw:8x256x28x28`). */
export function parseShapeList(text: string): ParsedShape[] {
  const items = text.split(/[\s,;]+/).filter(Boolean);
  if (items.length === 0) throw new Error('--shapes needs at least one shape, e.g. --shapes 4096x768,nchw:32x64x56x56');
  return items.map(parseShape);
}
