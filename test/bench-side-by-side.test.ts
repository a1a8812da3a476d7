// bench/pytorch/side-by-side.mjs, which makes the README's Performance table from paired runs of the CLI and
// PyTorch's compare.py: shape names mapped to compare.py's, medians, PyTorch's fastest run, per-pair ratios.
import { describe, expect, it } from 'vitest';

// @ts-expect-error: a plain ES module (not compiled, not shipped), without type declarations
import { formatUs, tabulate, torchShape } from '../bench/pytorch/side-by-side.mjs';

const stats = (us: number) => ({ medianNs: us * 1000 });
const result = (backend: string, us: number, fraction: number) => ({
  backend, prealloc: stats(us), alloc: stats(2 * us), fractionOfMemcpy: fraction,
});
// One CLI run: a channels-last BatchNorm backward and a GroupNorm forward (no PyTorch timing for the latter).
const normkitRun = (us: number) => ({
  cases: [
    { op: 'batchNormBackward', shape: 'nhwc:32x56x56x64', memcpy: stats(0.8 * us),
      results: [result('native:avx512', us, 0.8), result('native:avx2', 1.5 * us, 0.5), result('js', 10 * us, 0.08)] },
    { op: 'groupNorm', shape: 'nchw:32x64x56x56/g32', memcpy: stats(100),
      results: [result('native:avx512', 100, 1), result('native:avx2', 110, 0.9), result('js', 900, 0.1)] },
  ],
});
const pytorchRun = (us: number) => ({ results: [{ op: 'batchNormTrainBackward', shape: 'nhwc:32x64x56x56', us }] });

describe('side-by-side table (bench/pytorch/side-by-side.mjs)', () => {
  it("maps the CLI's shapes to compare.py's", () => {
    expect(torchShape('batchNormBackward', 'nhwc:32x56x56x64')).toBe('nhwc:32x64x56x56');  // logical NCHW order
    expect(torchShape('batchNormTraining', '256x512')).toBe('nc:256x512');
    expect(torchShape('groupNorm', 'nchw:8x256x28x28/g32')).toBe('nchw:8x256x28x28');
    expect(torchShape('groupNorm', 'nhwc:8x28x28x256/g32')).toBe('nhwc:8x256x28x28');
    expect(torchShape('layerNorm', '4096x768')).toBe('4096x768');
  });

  it("takes medians over the runs, PyTorch's fastest run, and each pair's ratio", () => {
    // normkit 3.0, 3.5, 4.0 ms; PyTorch 15, 4.0, 16 ms (bimodal): fastest 4.0 ms, 4.0 / 3.5 = 1.1x.
    const { rows, ranges } = tabulate([normkitRun(3000), normkitRun(3500), normkitRun(4000)],
      [pytorchRun(15000), pytorchRun(4000), pytorchRun(16000)]);
    expect(rows).toEqual([
      '| batchNormBackward | nhwc:32x56x56x64 | 2.80 ms | 3.50 ms | 80% | 50% | 7.00 ms | 35.00 ms | 4.00 ms | 1.1× |',
      '| groupNorm | nchw:32x64x56x56/g32 | 100 µs | 100 µs | 100% | 90% | 200 µs | 900 µs | – | – |',
    ]);
    expect(ranges[0]).toContain('pairs 1.14–5.00× (0 behind)');
    expect(ranges[1]).not.toContain('PyTorch');
  });

  it('counts the pairs where PyTorch was faster, and wants one PyTorch run per normkit run', () => {
    const { ranges } = tabulate([normkitRun(3000), normkitRun(5000)], [pytorchRun(4000), pytorchRun(4500)]);
    expect(ranges[0]).toContain('pairs 0.90–1.33× (1 behind)');
    expect(() => tabulate([normkitRun(3000)], [])).toThrow(RangeError);
  });

  it('marks a PyTorch time that compare.py took through autograd (aten\'s direct kernel was wrong there)', () => {
    const viaAutograd = (us: number) => ({ results: [{ ...pytorchRun(us).results[0], via: 'autograd' }] });
    const { rows } = tabulate([normkitRun(3000), normkitRun(3000)], [pytorchRun(9000), viaAutograd(8000)]);
    expect(rows[0]).toContain('| 8.00 ms (autograd) | 2.7× |');
    expect(tabulate([normkitRun(3000)], [pytorchRun(9000)]).rows[0]).not.toContain('autograd');
  });

  it('formats times as the README does', () => {
    expect([formatUs(0.5), formatUs(13.4), formatUs(2500)]).toEqual(['0.50 µs', '13 µs', '2.50 ms']);
  });
});
