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
  });
}
