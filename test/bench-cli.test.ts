// normkit-bench end to end, as a user runs it: tiny shapes, tiny budgets (no assertion on speed).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { describe, expect, it } from 'vitest';

import { checkReport } from '../dist/bench/report.js';
import { nk } from './helpers';

const cli = path.resolve(__dirname, '..', 'dist', 'bench', 'cli.js');

function run(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('normkit-bench (smoke)', () => {
  it('--json: a valid report on stdout, nothing on stderr, every backend checked and passed and timed', () => {
    const r = run(['--json', '--ops', 'layerNorm*,rmsNorm*', '--shapes', '8x64,1x5', '--budget', '3', '--threads', '2']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(checkReport(report)).toEqual([]);
    const info = nk.backendInfo();
    const expected = [...(info.nativeAvailable ? info.supportedIsas.map((i) => `native:${i}`) : []), 'js'];
    expect(report.backends.map((b: { id: string }) => b.id)).toEqual(expected);
    expect(report.cases.map((c: { op: string; shape: string }) => `${c.op} ${c.shape}`)).toEqual([
      'layerNorm 8x64', 'layerNorm 1x5', 'layerNormBackward 8x64', 'layerNormBackward 1x5',
      'rmsNorm 8x64', 'rmsNorm 1x5', 'rmsNormBackward 8x64', 'rmsNormBackward 1x5',
    ]);
    for (const c of report.cases) {
      expect(c.memcpy.gbps).toBeGreaterThan(0);
      expect(c.memcpy.samples).toBe(c.results.reduce((n: number, x: { memcpy: { samples: number } }) => n + x.memcpy.samples, 0));
      expect(c.results.map((x: { backend: string }) => x.backend)).toEqual(expected);
      for (const x of c.results) {
        expect(x.check.passed, `${c.op} ${c.shape} ${x.backend}: ${JSON.stringify(x.check)}`).toBe(true);
        expect(x.prealloc.samples).toBeGreaterThanOrEqual(3);
        expect(x.alloc.samples).toBeGreaterThanOrEqual(3);
        expect(x.gbps).toBeGreaterThan(0);
        // Each backend's ratio is to the memcpy timed around it (its own samples, pooled into the case's).
        expect(x.memcpy.samples).toBeGreaterThanOrEqual(6);
        expect(x.fractionOfMemcpy).toBeCloseTo(x.memcpy.medianNs / x.prealloc.medianNs, 12);
        if (x.backend !== 'js') expect(x.speedupVsJs).toBeGreaterThan(0);
        // --threads 2: forward ops (independent rows) on native backends get a threaded time.
        const threaded = x.kind === 'native' && !c.op.endsWith('Backward') && c.shape === '8x64';
        expect(x.threaded === null ? null : x.threaded.threads, `${c.op} ${c.shape} ${x.backend}`).toBe(threaded ? 2 : null);
      }
    }
  });

  it('text, Markdown and the chart file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'normkit-bench-'));
    const svg = path.join(dir, 'chart.svg');
    const text = run(['--ops', 'rmsNorm', '--shapes', '4x16', '--budget', '2', '--chart', svg]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/rmsNorm\s+4x16\s+/);
    expect(text.stdout).toMatch(/TypeScript .* reference/);
    expect(text.stdout).toContain(`chart written to ${svg}`);
    expect(fs.readFileSync(svg, 'utf8')).toMatch(/^<svg[^>]*>[\s\S]*class="memcpy"[\s\S]*<\/svg>\n$/);
    const md = run(['--markdown', '--ops', 'rmsNorm', '--shapes', '4x16', '--budget', '2', '--backends', 'js']);
    expect(md.code).toBe(0);
    expect(md.stdout).toMatch(/^\| op \| shape \| backend \|/m);
    expect(md.stdout).toMatch(/^\| rmsNorm \| 4x16 \| TypeScript \|/m);
    fs.rmSync(dir, { recursive: true });
  });

  it('--info says which backend and instruction set run, and why the fallback if it is used', () => {
    const r = run(['--info']);
    expect(r.code).toBe(0);
    const info = nk.backendInfo();
    expect(r.stdout).toContain(`Node.js:          ${process.version}`);
    expect(r.stdout).toContain(`normkit:          ${info.packageVersion}`);
    if (info.nativeAvailable) {
      expect(r.stdout).toMatch(/^backend: +native/m);
      expect(r.stdout).toContain(`instruction set:  ${info.isa}`);
      expect(r.stdout).toContain(info.cpuFeatures.join(' '));
    }
    const js = run(['--info'], { NORMKIT_BACKEND: 'js' });
    expect(js.stdout).toMatch(/^backend: +js/m);
    expect(js.stdout).toMatch(/^why the fallback: NORMKIT_BACKEND=js/m);
  });

  it('without the addon, runs on TypeScript with a TypedArray copy as the yardstick', () => {
    const r = run(['--json', '--ops', 'layerNorm', '--shapes', '3x7', '--budget', '2'], { NORMKIT_BACKEND: 'js' });
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(checkReport(report)).toEqual([]);
    expect(report.backends.map((b: { id: string }) => b.id)).toEqual(['js']);
    expect(report.cases[0].memcpy.method).toMatch(/TypedArray\.set/);
    expect(report.notes.join(' ')).toMatch(/native addon unavailable/);
  });

  it('a bad command line exits 2 with the reason on stderr and nothing on stdout', () => {
    for (const args of [['--shapes', '12xq'], ['--ops', 'softmax'], ['--backends', 'sse4'], ['--quick', '--full']]) {
      const r = run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^normkit-bench: .+\n\(see normkit-bench --help\)\n$/);
    }
    expect(run(['--help']).stdout).toContain('--chart FILE');
  });
});
