// normkit-bench's command line and shape syntax.
import { describe, expect, it } from 'vitest';

import { parseArgs, UsageError } from '../dist/bench/args.js';
import { formatShape, nchw, parseShape, parseShapeList, rowsCols } from '../dist/bench/shapes.js';

describe('parseArgs', () => {
  it('defaults: default mode, every op/backend, no peers, one thread, text output', () => {
    const o = parseArgs([]);
    expect(o).toMatchObject({ mode: 'default', ops: null, shapes: null, backends: null, peers: [], threads: 1, json: false, markdown: false, chart: null, budgetMs: null, seed: 1, progress: null });
  });

  it('reads every option, in --flag value and --flag=value forms', () => {
    const o = parseArgs(['--quick', '--ops', 'layerNorm,rmsNorm*', '--shapes=4096x768,nchw:32x64x56x56', '--backends', 'avx2,js',
      '--threads', '4', '--json', '--chart', 'out.html', '--budget=20', '--seed', '7', '--no-progress', '--peers=tfjs']);
    expect(o.mode).toBe('quick');
    expect(o.ops).toEqual(['layerNorm', 'rmsNorm*']);
    expect(o.shapes?.map((s) => s.text)).toEqual(['4096x768', 'nchw:32x64x56x56']);
    expect(o.backends).toEqual(['avx2', 'js']);
    expect(o).toMatchObject({ threads: 4, json: true, chart: 'out.html', budgetMs: 20, seed: 7, progress: false, peers: ['tfjs'] });
    expect(parseArgs(['--full', '--markdown', '--peers']).peers).toEqual(['tfjs', 'onnxruntime']);
    expect(parseArgs(['--full']).mode).toBe('full');
    expect(parseArgs(['--info']).info).toBe(true);
    expect(parseArgs(['-h']).help).toBe(true);
  });

  it('rejects bad command lines with a UsageError that names the problem', () => {
    const bad: Array<[string[], RegExp]> = [
      [['--quick', '--full'], /exclude each other/],
      [['--json', '--markdown'], /exclude each other/],
      [['--threads', '0'], /--threads must be an integer from 1/],
      [['--threads', 'two'], /--threads/],
      [['--budget'], /--budget needs a value/],
      [['--ops', '--json'], /--ops needs a value/],
      [['--chart', 'out.png'], /\.svg or \.html/],
      [['--peers=torch'], /unknown peer 'torch'/],
      [['--shapes', '4096xq'], /'q' is not a positive integer/],
      [['--frobnicate'], /unknown option '--frobnicate'/],
      [['stray'], /unexpected argument 'stray'/],
      [['--json=yes'], /takes no value/],
    ];
    for (const [argv, message] of bad) {
      expect(() => parseArgs(argv), argv.join(' ')).toThrow(UsageError);
      expect(() => parseArgs(argv), argv.join(' ')).toThrow(message);
    }
  });
});

describe('shapes', () => {
  it('parses rows shapes: the last dim is normalized', () => {
    const s = parseShape('4096x768');
    expect(s).toMatchObject({ layout: 'rows', dims: [4096, 768], text: '4096x768' });
    expect(rowsCols(s)).toEqual({ rows: 4096, cols: 768 });
    expect(rowsCols(parseShape('2x3x5'))).toEqual({ rows: 6, cols: 5 });
    expect(rowsCols(parseShape('768'))).toEqual({ rows: 1, cols: 768 });
  });

  it('parses channel layouts and group counts, and prints them back canonically', () => {
    const a = parseShape(' NCHW:32×64×56×56 ');
    expect(a).toMatchObject({ layout: 'nchw', dims: [32, 64, 56, 56], text: 'nchw:32x64x56x56' });
    expect(nchw(a)).toEqual({ n: 32, c: 64, spatial: 56 * 56 });
    const b = parseShape('nhwc:8x28x28x256');
    expect(nchw(b)).toEqual({ n: 8, c: 256, spatial: 28 * 28 });
    const g = parseShape('nchw:8x256x28x28/g32');
    expect(g.groups).toBe(32);
    expect(g.text).toBe('nchw:8x256x28x28/g32');
    expect(formatShape({ layout: 'nhwc', dims: [1, 2, 3] })).toBe('nhwc:1x2x3');
  });

  it('rejects malformed shapes with the reason', () => {
    const bad: Array<[string, RegExp]> = [
      ['', /no dimensions/], ['4096x', /'' is not a positive integer/], ['0x768', /at least 1/], ['-3x4', /not a positive integer/],
      ['1.5x4', /not a positive integer/], ['nchw:8x256', /at least 3 dimensions/], ['ncdhw:1x2x3x4x5', /unknown layout 'ncdhw'/],
      ['nchw:8x256x28x28/g30', /30 groups do not divide 256 channels/], ['nchw:8x256x28x28/x', /not a group count/],
      ['65536x65536', /more than this benchmark allocates/],
    ];
    for (const [text, message] of bad) expect(() => parseShape(text), text).toThrow(message);
  });

  it('splits lists on commas and spaces', () => {
    expect(parseShapeList('4096x768, 1x768 nchw:2x3x4x4').map((s) => s.text)).toEqual(['4096x768', '1x768', 'nchw:2x3x4x4']);
    expect(() => parseShapeList(' , ')).toThrow(/at least one shape/);
  });
});
