// The outputs of normkit-bench: the JSON schema (checkReport), the text and Markdown tables, the chart, and
// the runner's rule that a backend whose result is wrong is marked and never timed.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { describe, expect, it } from 'vitest';

import { parseArgs } from '../dist/bench/args.js';
import { escapeXml, niceCeil, renderHtml, renderSvg, writeChart } from '../dist/bench/chart.js';
import { defineOp } from '../dist/bench/registry.js';
import { checkReport, formatRatio, formatTime, renderJson, renderMarkdown, renderText, SCHEMA } from '../dist/bench/report.js';
import type { Report } from '../dist/bench/report.js';
import { runBench } from '../dist/bench/run.js';
import { parseShape, rowsCols } from '../dist/bench/shapes.js';
import { measure, quantile, summarize } from '../dist/bench/timing.js';
import { nk } from './helpers';

const stats = (medianNs: number) => ({ medianNs, q1Ns: medianNs * 0.9, q3Ns: medianNs * 1.2, iqrNs: medianNs * 0.3, minNs: medianNs * 0.8, samples: 9, callsPerSample: 3, gcDropped: 0 });
const check = (passed: boolean, err: number | null) => ({ passed, maxRelError: err, tolerance: 1e-5, compared: ['output'], problem: null });
const result = (backend: string, kind: 'native' | 'js' | 'peer', ns: number | null, extra: object = {}) => ({
  backend, kind, check: check(true, 1e-7), prealloc: ns !== null && kind !== 'peer' ? stats(ns) : null,
  alloc: ns !== null ? stats(ns * 2) : null, threaded: null, basis: ns === null ? null : kind === 'peer' ? 'alloc' as const : 'prealloc' as const,
  gbps: ns !== null ? 1000 / ns : null, memcpy: ns !== null ? stats(100) : null, fractionOfMemcpy: ns !== null ? 100 / ns : null, speedupVsJs: ns !== null && kind !== 'js' ? 5000 / ns : null, skipped: null, ...extra,
});

function fixture(): Report {
  return {
    schema: SCHEMA, date: '2025-01-02T03:04:05.000Z', command: 'normkit-bench --quick', mode: 'quick',
    settings: { warmupMs: 10, budgetMs: 60, allocBudgetMs: 30, minSamples: 5, maxSamples: 300, sampleMs: 2, threads: 1, seed: 1 },
    machine: { cpu: 'Test CPU <x>', cores: 2, platform: 'linux', arch: 'x64', node: 'v20.0.0', packageVersion: '0.1.0', nativeAvailable: true, isa: 'avx2', supportedIsas: ['avx2', 'scalar'], fallbackReason: null },
    backends: [
      { id: 'native:avx2', kind: 'native', label: 'native avx2' }, { id: 'native:scalar', kind: 'native', label: 'native scalar' },
      { id: 'js', kind: 'js', label: 'TypeScript' }, { id: 'tfjs', kind: 'peer', label: 'tfjs-cpu 4.22.0' },
    ],
    peersMissing: [{ name: 'onnxruntime', reason: 'onnxruntime-node is not installed' }], skipped: [], notes: ['a note'],
    cases: [{
      op: 'layerNorm', family: 'LayerNorm', pass: 'forward', shape: '4096x768', elements: 4096 * 768, bytes: 1000, memcpy: { ...stats(100), gbps: 10, method: 'native memcpy' },
      results: [
        result('native:avx2', 'native', 200),
        { ...result('native:scalar', 'native', null), check: check(false, 0.5), skipped: 'failed its check: not timed' },
        result('js', 'js', 5000),
        result('tfjs', 'peer', 50_000),
      ],
    }],
    durationMs: 1234,
  };
}

describe('the JSON report and its schema', () => {
  it('a well-formed report passes checkReport, also after a JSON round trip', () => {
    expect(checkReport(fixture())).toEqual([]);
    expect(checkReport(JSON.parse(renderJson(fixture())))).toEqual([]);
  });

  it('checkReport names what is wrong', () => {
    const r = fixture() as unknown as Record<string, any>;
    r.schema = 'other/2';
    r.cases[0].results[0].backend = 'gpu';
    r.cases[0].results[1].prealloc = stats(1); // a failed check must not be timed
    r.cases[0].results[2].gbps = 'fast';
    r.cases[0].memcpy.q1Ns = 1e9;
    r.cases[0].results[0].memcpy = null; // a ratio without the memcpy it was taken against
    const problems = checkReport(r);
    expect(problems).toEqual(expect.arrayContaining([
      `schema must be '${SCHEMA}'`,
      'cases[0].results[0].backend must be one of backends[].id',
      'cases[0].results[1]: a backend that failed its check must not be timed',
      'cases[0].results[2].gbps must be a number or null',
      'cases[0].memcpy: q1 <= median <= q3',
      'cases[0].results[0]: fractionOfMemcpy goes with a timed backend\'s memcpy',
    ]));
    expect(checkReport(null)).toEqual(['the report must be an object']);
    expect(checkReport({ ...fixture(), cases: 3 })).toContain('cases must be an array');
  });

  it('non-finite numbers become null in JSON', () => {
    const r = fixture();
    r.cases[0].results[0].speedupVsJs = Infinity;
    expect(JSON.parse(renderJson(r)).cases[0].results[0].speedupVsJs).toBeNull();
  });
});

describe('tables', () => {
  it('the text table has a row per backend and the memcpy, marks the wrong one, and explains peers\' timing', () => {
    const text = renderText(fixture());
    const lines = text.split('\n');
    const row = (name: string) => lines.find((l) => l.includes(`  ${name}`))!;
    expect(row('native avx2')).toMatch(/200 ns .*5\.0 .*50%.*25×.*400 ns.*ok \(1e-7\)/);
    expect(row('native scalar')).toMatch(/WRONG \(5e-1\) > 1e-5/);
    expect(row('native scalar')).not.toMatch(/ns/);
    expect(row('TypeScript')).toMatch(/5\.00 µs.*reference/);
    expect(row('tfjs-cpu')).toMatch(/100 µs\*.*\(same\)/);
    expect(row('memcpy (1000 B)')).toMatch(/100 ns.*10\.0.*100%/);
    expect(text).toContain('Peer onnxruntime skipped: onnxruntime-node is not installed');
    expect(text).toContain('CHECK FAILED (results differ from the TypeScript backend; not timed): layerNorm 4096x768 native:scalar');
    expect(text).not.toContain('threaded'); // empty columns are dropped
  });

  it('the Markdown table has one header, an alignment row and a row per backend plus memcpy', () => {
    const md = renderMarkdown(fixture());
    const rows = md.split('\n').filter((l) => l.startsWith('|'));
    expect(rows[0]).toMatch(/^\| op \| shape \| backend \| median \| spread \| GB\/s \| of memcpy \| vs TS \| allocating \| check \|$/);
    expect(rows[1]).toMatch(/^\| :--- \| :--- \| :--- \| ---: /);
    expect(rows).toHaveLength(2 + 4 + 1);
    expect(md).toContain('`normkit-bench --quick`');
  });

  it('formats times and ratios readably', () => {
    expect(formatTime(812)).toBe('812 ns');
    expect(formatTime(12_345)).toBe('12.3 µs');
    expect(formatTime(1_234_567)).toBe('1.23 ms');
    expect(formatTime(2.5e9)).toBe('2.50 s');
    expect(formatTime(null)).toBe('—');
    expect(formatRatio(31.4)).toBe('31×');
    expect(formatRatio(2.54)).toBe('2.5×');
    expect(formatRatio(0.0123)).toBe('0.012×');
  });
});

describe('the chart', () => {
  it('draws one bar per timed backend, the memcpy line, the wrong result in words; escapes text', () => {
    const svg = renderSvg(fixture());
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    const bars = [...svg.matchAll(/<rect x="[\d.]+" y="[\d.]+" width="([\d.]+)" height="14" fill="([^"]+)"><title>([^<]*)</g)];
    expect(bars.map((b) => b[3].split(':')[0])).toEqual(['native avx2', 'TypeScript', 'tfjs-cpu 4.22.0']);
    // Lengths proportional to GB/s: avx2 5 GB/s, TypeScript 0.2, tfjs 0.02.
    const width = bars.map((b) => Number(b[1]));
    expect(width[0] / width[1]).toBeCloseTo(25, 0);
    expect(new Set(bars.map((b) => b[2])).size).toBe(3); // a colour per backend
    expect(svg).toMatch(/class="memcpy"><title>memcpy 10\.0 GB\/s<\/title>/);
    expect(svg).toContain('WRONG RESULT (error 5.0e-1): not timed');
    expect(svg).toContain('Test CPU &lt;x&gt;');
    expect(escapeXml(`a<b & "c"`)).toBe('a&lt;b &amp; &quot;c&quot;');
    expect([niceCeil(29), niceCeil(41), niceCeil(0.7), niceCeil(100)]).toEqual([30, 50, 0.8, 100]);
  });

  it('writes SVG or an HTML page with the chart and the table, by file name', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'normkit-bench-'));
    writeChart(path.join(dir, 'c.svg'), fixture());
    writeChart(path.join(dir, 'c.html'), fixture());
    expect(fs.readFileSync(path.join(dir, 'c.svg'), 'utf8')).toBe(renderSvg(fixture()));
    const html = fs.readFileSync(path.join(dir, 'c.html'), 'utf8');
    expect(html).toBe(renderHtml(fixture()));
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('<svg');
    expect(html).toContain('<td>native avx2</td>');
    fs.rmSync(dir, { recursive: true });
  });
});

describe('timing', () => {
  it('quantiles interpolate; summarize orders the quartiles', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([5], 0.25)).toBe(5);
    const s = summarize([5, 1, 4, 2, 3], 10, 1);
    expect(s).toMatchObject({ medianNs: 3, q1Ns: 2, q3Ns: 4, iqrNs: 2, minNs: 1, samples: 5, callsPerSample: 10, gcDropped: 1 });
  });

  it('measure takes at least minSamples samples of calibrated batches, sync or async', async () => {
    let calls = 0;
    const settings = { warmupMs: 2, budgetMs: 5, minSamples: 4, maxSamples: 50, sampleMs: 0.5 };
    const s = await measure(() => { calls++; }, settings, { dropGcSamples: true });
    expect(s.samples).toBeGreaterThanOrEqual(3);
    expect(s.samples + s.gcDropped).toBeGreaterThanOrEqual(4);
    expect(s.callsPerSample).toBeGreaterThan(1);
    expect(calls).toBeGreaterThanOrEqual(4 * s.callsPerSample);
    expect(s.q1Ns).toBeLessThanOrEqual(s.medianNs);
    expect(s.medianNs).toBeLessThanOrEqual(s.q3Ns);
    let resolved = 0;
    const a = await measure(() => new Promise<void>((r) => setImmediate(() => { resolved++; r(); })), settings, { dropGcSamples: false });
    expect(resolved).toBeGreaterThanOrEqual(a.samples * a.callsPerSample);
  });
});

describe('the runner', () => {
  it('marks a backend whose result differs from the TypeScript backend and does not time it', async () => {
    // An op that is right on the TypeScript backend and wrong (off by 1%) on every native one.
    const skewed = defineOp<{ x: Float32Array }, { output: Float32Array }>({
      name: 'skewed', family: 'Test', pass: 'forward', shapes: { quick: ['4x8'], default: ['4x8'], full: ['4x8'] }, layouts: ['rows'],
      build: (shape) => ({ x: new Float32Array(rowsCols(shape).rows * rowsCols(shape).cols).fill(2) }),
      allocate: (i) => ({ output: new Float32Array(i.x.length) }),
      call: (i, out) => { const f = nk.backendInfo().backend === 'js' ? 1 : 1.01; for (let k = 0; k < i.x.length; k++) out.output[k] = i.x[k] * f; },
      callAllocating: (i) => i.x.map((v) => v),
      bytes: (i) => 8 * i.x.length,
      tolerance: 1e-3,
    });
    const report = await runBench(parseArgs(['--quick', '--budget', '2']), ['--quick'], {}, [skewed]);
    expect(checkReport(JSON.parse(renderJson(report)))).toEqual([]);
    const [c] = report.cases;
    expect(c.shape).toBe(parseShape('4x8').text);
    const js = c.results.find((r) => r.backend === 'js')!;
    expect(js.check.passed).toBe(true);
    expect(js.prealloc).not.toBeNull();
    const natives = c.results.filter((r) => r.kind === 'native');
    expect(natives.length).toBe(nk.backendInfo().supportedIsas.length);
    for (const r of natives) {
      expect(r.check.passed).toBe(false);
      expect(r.check.maxRelError).toBeCloseTo(0.01, 4);
      expect(r.prealloc).toBeNull();
      expect(r.speedupVsJs).toBeNull();
    }
  });
});
