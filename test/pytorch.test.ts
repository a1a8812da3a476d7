// normkit against PyTorch's own answers (test/fixtures/torch.json, written by
// test/fixtures/make_torch_fixtures.py with torch 1.13): defaults, saved statistics and gradients.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { describe, expect, it } from 'vitest';

import { nk, relError, targets } from './helpers';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Case = Record<string, any>;
const fixtures: { torch: string; cases: Case[] } = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'torch.json'), 'utf8'));
const find = (op: string, extra: (c: Case) => boolean = () => true) => fixtures.cases.find((c) => c.op === op && extra(c))!;
const f32 = (a: number[]) => Float32Array.from(a);

for (const t of targets()) {
  describe(`matches PyTorch ${fixtures.torch} on ${t.name}`, () => {
    it('layerNorm and its backward (default eps)', () => {
      t.use();
      const c = find('layerNorm');
      const x = f32(c.x);
      const r = nk.layerNorm(x, c.shape, c.normalizedShape, { weight: f32(c.weight), bias: f32(c.bias) });
      expect(relError(r.output, c.y)).toBeLessThan(1e-5);
      expect(relError(r.mean, c.mean)).toBeLessThan(1e-5);
      expect(relError(r.rstd, c.rstd)).toBeLessThan(1e-5);
      const g = nk.layerNormBackward(f32(c.dy), x, c.shape, c.normalizedShape, { mean: r.mean, rstd: r.rstd, weight: f32(c.weight), outputMask: [true, true, true] });
      expect(relError(g.gradInput!, c.dx)).toBeLessThan(1e-4);
      expect(relError(g.gradWeight!, c.dweight)).toBeLessThan(1e-4);
      expect(relError(g.gradBias!, c.dbias)).toBeLessThan(1e-4);
    });

    it('rmsNorm and its backward', () => {
      t.use();
      const c = find('rmsNorm');
      const x = f32(c.x);
      const r = nk.rmsNorm(x, c.shape, c.shape[c.shape.length - 1], { weight: f32(c.weight), eps: c.eps });
      expect(relError(r.output, c.y)).toBeLessThan(1e-5);
      const g = nk.rmsNormBackward(f32(c.dy), x, c.shape, c.shape[c.shape.length - 1], { rstd: r.rstd, weight: f32(c.weight) });
      expect(relError(g.gradInput!, c.dx)).toBeLessThan(1e-4);
      expect(relError(g.gradWeight!, c.dweight)).toBeLessThan(1e-4);
    });

    it('groupNorm and its backward', () => {
      t.use();
      const c = find('groupNorm');
      const x = f32(c.x);
      const r = nk.groupNorm(x, c.shape, c.groups, { weight: f32(c.weight), bias: f32(c.bias) });
      expect(relError(r.output, c.y)).toBeLessThan(1e-5);
      expect(relError(r.mean, c.mean)).toBeLessThan(1e-5);
      expect(relError(r.rstd, c.rstd)).toBeLessThan(1e-5);
      const g = nk.groupNormBackward(f32(c.dy), x, c.shape, c.groups, { mean: r.mean, rstd: r.rstd, weight: f32(c.weight), outputMask: [true, true, true] });
      expect(relError(g.gradInput!, c.dx)).toBeLessThan(1e-4);
      expect(relError(g.gradWeight!, c.dweight)).toBeLessThan(1e-4);
      expect(relError(g.gradBias!, c.dbias)).toBeLessThan(1e-4);
    });

    for (const momentum of [0.1, null] as const) {
      it(`batchNorm training (momentum ${momentum}): output, saved statistics, running stats, backward; then inference`, () => {
        t.use();
        const c = find('batchNormTrain', (k) => k.momentum === momentum);
        const x = f32(c.x), weight = f32(c.weight), bias = f32(c.bias);
        const runningMean = f32(c.runningMean0), runningVar = f32(c.runningVar0);
        const r = nk.batchNorm(x, c.shape, { weight, bias, runningMean, runningVar, training: true, momentum,
          numBatchesTracked: momentum === null ? c.numBatchesTracked : undefined });
        expect(relError(r.output, c.y)).toBeLessThan(1e-5);
        expect(relError(r.saveMean, c.saveMean)).toBeLessThan(1e-6);
        expect(relError(r.saveInvstd, c.saveInvstd)).toBeLessThan(1e-5);
        expect(relError(runningMean, c.runningMean)).toBeLessThan(1e-6);
        expect(relError(runningVar, c.runningVar)).toBeLessThan(1e-6);
        const g = nk.batchNormBackward(f32(c.dy), x, c.shape, { saveMean: r.saveMean, saveInvstd: r.saveInvstd, weight });
        expect(relError(g.gradInput!, c.dx)).toBeLessThan(1e-4);
        expect(relError(g.gradWeight!, c.dweight)).toBeLessThan(1e-4);
        expect(relError(g.gradBias!, c.dbias)).toBeLessThan(1e-4);
        // Inference with the updated running statistics, and its backward (statistics constant).
        const e = c.eval;
        const y = nk.batchNorm(f32(e.x), e.shape, { weight, bias, runningMean, runningVar, training: false });
        expect(relError(y.output, e.y)).toBeLessThan(1e-5);
        const ge = nk.batchNormBackward(f32(e.dy), f32(e.x), e.shape, { training: false, runningMean, runningVar, weight });
        expect(relError(ge.gradInput!, e.dx)).toBeLessThan(1e-5);
      });
    }
  });
}
