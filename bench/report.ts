// The results of a run (the JSON schema, normkit-bench/1), and their renderings: a plain-text table, a
// Markdown table, the JSON document. checkReport() is the schema in code: tests and tools use it.
import type { Stats } from './timing';

export const SCHEMA = 'normkit-bench/1';

export type BackendKind = 'native' | 'js' | 'peer';

export interface BackendRef {
  /** 'native:avx512', 'native:avx2', 'native:scalar', 'js', 'tfjs', 'onnxruntime'. */
  id: string;
  kind: BackendKind;
  /** Human name, e.g. 'TypeScript', 'native AVX-512', 'tfjs-cpu 4.22.0'. */
  label: string;
}

export interface CheckResult {
  /** Whether every compared result is within tolerance of the TypeScript backend's. */
  passed: boolean;
  /** Worst max|got - ref| / max|ref| over the compared results (null if the op failed to run). */
  maxRelError: number | null;
  tolerance: number;
  /** Names of the results compared (peers may return fewer). */
  compared: string[];
  /** What went wrong, if anything (an exception, a missing result). */
  problem: string | null;
}

export interface BackendResult {
  backend: string;
  kind: BackendKind;
  check: CheckResult;
  /** Outputs preallocated (null for peers, which always allocate, and when not timed). */
  prealloc: Stats | null;
  /** Outputs allocated per call, as a naive user calls it. */
  alloc: Stats | null;
  /** N concurrent async calls over row slices (--threads N > 1, native, ops with independent rows). */
  threaded: (Stats & { threads: number }) | null;
  /** Which timing the derived numbers use: prealloc, or alloc for peers. */
  basis: 'prealloc' | 'alloc' | null;
  /** The op's minimal bytes / median time, in GB/s (1e9 bytes per second). */
  gbps: number | null;
  /** The memcpy of the op's byte count, timed around this backend's timing (half before, half after). */
  memcpy: Stats | null;
  /** That memcpy's time / this time: 1 = as fast as copying the bytes. */
  fractionOfMemcpy: number | null;
  /** TypeScript backend's time / this time (both on their basis). */
  speedupVsJs: number | null;
  /** Why this backend was not run or not timed (failed check, unsupported layout, ...), or null. */
  skipped: string | null;
}

export interface CaseResult {
  op: string;
  family: string;
  pass: string;
  shape: string;
  elements: number;
  /** The least bytes the op reads and writes. */
  bytes: number;
  /** The native memcpy of the same byte count (half read, half written): every backend's samples of it pooled. */
  memcpy: (Stats & { gbps: number; method: string }) | null;
  results: BackendResult[];
}

export interface Report {
  schema: typeof SCHEMA;
  /** ISO date-time of the run's start. */
  date: string;
  command: string;
  mode: 'quick' | 'default' | 'full';
  settings: {
    warmupMs: number; budgetMs: number; allocBudgetMs: number; minSamples: number; maxSamples: number;
    sampleMs: number; threads: number; seed: number;
  };
  machine: {
    cpu: string; cores: number; platform: string; arch: string; node: string; packageVersion: string;
    nativeAvailable: boolean; isa: string | null; supportedIsas: string[]; fallbackReason: string | null;
  };
  backends: BackendRef[];
  peersMissing: Array<{ name: string; reason: string }>;
  skipped: Array<{ op: string; shape: string | null; reason: string }>;
  notes: string[];
  cases: CaseResult[];
  durationMs: number;
}

// ---- formatting ------------------------------------------------------------------------------------------
export function formatTime(ns: number | null | undefined): string {
  if (ns === null || ns === undefined || !Number.isFinite(ns)) return '—';
  if (ns < 1e3) return `${ns.toPrecision(3)} ns`;
  if (ns < 1e6) return `${(ns / 1e3).toPrecision(3)} µs`;
  if (ns < 1e9) return `${(ns / 1e6).toPrecision(3)} ms`;
  return `${(ns / 1e9).toPrecision(3)} s`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

/** Fixed digits, or 2 significant digits for small values (0.012 rather than 0.0). */
export function formatNumber(v: number | null, digits: number): string {
  if (v === null || !Number.isFinite(v)) return '—';
  if (v !== 0 && Math.abs(v) < 10 ** -digits * 10) return v.toPrecision(2);
  return v.toFixed(digits);
}
const num = (v: number | null, digits: number) => formatNumber(v, digits);
/** A ratio such as a speed-up: 31×, 2.5×, 0.012×. */
export function formatRatio(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return '—';
  return `${v >= 10 ? v.toFixed(0) : v >= 0.1 ? v.toFixed(1) : v.toPrecision(2)}×`;
}
const spread = (s: Stats | null) => (s ? `±${((s.iqrNs / 2 / s.medianNs) * 100).toFixed(s.iqrNs / s.medianNs < 0.2 ? 1 : 0)}%` : '');

function checkCell(r: BackendResult): string {
  if (r.backend === 'js') return 'reference';
  if (r.check.problem && r.check.maxRelError === null) return `ERROR: ${r.check.problem}`;
  const err = r.check.maxRelError === null ? '' : ` (${r.check.maxRelError.toExponential(0)})`;
  return r.check.passed ? `ok${err}` : `WRONG${err} > ${r.check.tolerance.toExponential(0)}`;
}

export const TABLE_HEADER = ['op', 'shape', 'backend', 'median', 'spread', 'GB/s', 'of memcpy', 'vs TS', 'allocating', 'threaded', 'check'];

/** One row per (case, backend) plus a memcpy row per case: the cells of the table. */
export function tableRows(report: Report): string[][] {
  const label = new Map(report.backends.map((b) => [b.id, b.label]));
  const rows: string[][] = [];
  for (const c of report.cases) {
    const op = `${c.op}`;
    let first = true;
    const lead = () => { const cells = first ? [op, c.shape] : ['', '']; first = false; return cells; };
    for (const r of c.results) {
      const primary = r.basis === 'alloc' ? r.alloc : r.prealloc;
      if (r.skipped && !primary) {
        rows.push([...lead(), label.get(r.backend) ?? r.backend, '—', '', '', '', '', '', '', r.check.passed ? `skipped: ${r.skipped}` : checkCell(r)]);
        continue;
      }
      rows.push([
        ...lead(), label.get(r.backend) ?? r.backend,
        formatTime(primary?.medianNs) + (r.basis === 'alloc' ? '*' : ''), spread(primary),
        num(r.gbps, 1), r.fractionOfMemcpy === null ? '—' : `${formatNumber(r.fractionOfMemcpy * 100, 0)}%`,
        formatRatio(r.speedupVsJs),
        r.basis === 'alloc' ? '(same)' : formatTime(r.alloc?.medianNs),
        r.threaded ? `${formatTime(r.threaded.medianNs)} (${r.threaded.threads}t)` : '',
        checkCell(r),
      ]);
    }
    if (c.memcpy) {
      const yardstick = c.memcpy.method === 'native memcpy' ? 'memcpy' : 'TypedArray.set';
      rows.push(['', first ? c.shape : '', `${yardstick} (${formatBytes(c.bytes)})`, formatTime(c.memcpy.medianNs), spread(c.memcpy),
        num(c.memcpy.gbps, 1), '100%', '', '', '', '']);
    }
  }
  return rows;
}

function dropEmptyColumns(header: string[], rows: string[][]): { header: string[]; rows: string[][] } {
  const keep = header.map((_, j) => rows.some((r) => r[j] !== '' && r[j] !== undefined) || j < 3);
  return { header: header.filter((_, j) => keep[j]), rows: rows.map((r) => r.filter((_, j) => keep[j])) };
}

function summaryLines(report: Report): string[] {
  const m = report.machine;
  const lines = [
    `normkit-bench ${report.mode} run, ${report.date.slice(0, 16).replace('T', ' ')} UTC: \`${report.command}\``,
    `${m.cpu} (${m.cores} cores), ${m.platform}-${m.arch}, Node ${m.node}, normkit ${m.packageVersion}` +
      (m.nativeAvailable ? `, native ISAs: ${m.supportedIsas.join(', ')}` : `, native addon unavailable: ${m.fallbackReason}`),
    `Timing: warm-up ${report.settings.warmupMs} ms, then samples for ${report.settings.budgetMs} ms (allocating: ${report.settings.allocBudgetMs} ms), ` +
      `at least ${report.settings.minSamples}; median time per call; spread: half the interquartile range, relative to the median. GB/s counts the op's minimal bytes; ` +
      '"of memcpy" compares with a native memcpy of as many bytes, timed just before and after each backend (the memcpy row pools those); "vs TS" is the TypeScript backend\'s time over this one.',
  ];
  if (report.cases.some((c) => c.results.some((r) => r.basis === 'alloc')))
    lines.push('* peers allocate their outputs on every call: their time is the allocating one.');
  for (const p of report.peersMissing) lines.push(`Peer ${p.name} skipped: ${p.reason}`);
  for (const s of report.skipped) lines.push(`Skipped ${s.op}${s.shape ? ` ${s.shape}` : ''}: ${s.reason}`);
  for (const n of report.notes) lines.push(`Note: ${n}`);
  const failed = report.cases.flatMap((c) => c.results.filter((r) => !r.check.passed).map((r) => `${c.op} ${c.shape} ${r.backend}`));
  if (failed.length) lines.push(`CHECK FAILED (results differ from the TypeScript backend; not timed): ${failed.join('; ')}`);
  lines.push(`Total ${(report.durationMs / 1000).toFixed(1)} s.`);
  return lines;
}

export function renderText(report: Report): string {
  const { header, rows } = dropEmptyColumns(TABLE_HEADER, tableRows(report));
  const widths = header.map((h, j) => Math.max(h.length, ...rows.map((r) => [...r[j]].length)));
  const numeric = new Set(['median', 'spread', 'GB/s', 'of memcpy', 'vs TS', 'allocating']);
  const line = (cells: string[]) => cells.map((c, j) => {
    const pad = ' '.repeat(widths[j] - [...c].length);
    return numeric.has(header[j]) ? pad + c : c + pad;
  }).join('  ').trimEnd();
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('  ')];
  let prevOp = '';
  for (const r of rows) {
    if (r[0] !== '' && prevOp !== '' && r[0] !== prevOp) out.push('');
    if (r[0] !== '') prevOp = r[0];
    out.push(line(r));
  }
  return [...summaryLines(report), '', ...out, ''].join('\n');
}

export function renderMarkdown(report: Report): string {
  const { header, rows } = dropEmptyColumns(TABLE_HEADER, tableRows(report));
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const right = new Set(['median', 'spread', 'GB/s', 'of memcpy', 'vs TS', 'allocating', 'threaded']);
  return [
    ...summaryLines(report).map((l) => `${l}  `),
    '',
    `| ${header.map(esc).join(' | ')} |`,
    `| ${header.map((h) => (right.has(h) ? '---:' : ':---')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
    '',
  ].join('\n');
}

export function renderJson(report: Report): string {
  return `${JSON.stringify(report, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`;
}

// ---- the schema, in code -----------------------------------------------------------------------------------
/** Problems with a parsed JSON report (empty when it follows normkit-bench/1). */
export function checkReport(doc: unknown): string[] {
  const problems: string[] = [];
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const expect = (cond: boolean, what: string) => { if (!cond) problems.push(what); };
  const isNum = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  const numOrNull = (v: unknown) => v === null || isNum(v);
  const stats = (v: unknown, where: string) => {
    if (v === null) return;
    if (!isObj(v)) { problems.push(`${where} must be an object or null`); return; }
    for (const k of ['medianNs', 'q1Ns', 'q3Ns', 'iqrNs', 'minNs', 'samples', 'callsPerSample', 'gcDropped'])
      expect(isNum(v[k]), `${where}.${k} must be a number`);
    if (isNum(v.q1Ns) && isNum(v.medianNs) && isNum(v.q3Ns))
      expect((v.q1Ns as number) <= (v.medianNs as number) && (v.medianNs as number) <= (v.q3Ns as number), `${where}: q1 <= median <= q3`);
  };
  if (!isObj(doc)) return ['the report must be an object'];
  expect(doc.schema === SCHEMA, `schema must be '${SCHEMA}'`);
  expect(typeof doc.date === 'string' && !Number.isNaN(Date.parse(doc.date as string)), 'date must be an ISO date');
  expect(typeof doc.command === 'string', 'command must be a string');
  expect(['quick', 'default', 'full'].includes(doc.mode as string), 'mode must be quick, default or full');
  expect(isObj(doc.settings) && isNum(doc.settings.budgetMs) && isNum(doc.settings.threads), 'settings must hold budgetMs and threads');
  expect(isObj(doc.machine) && typeof doc.machine.node === 'string' && typeof doc.machine.nativeAvailable === 'boolean', 'machine must hold node and nativeAvailable');
  expect(isNum(doc.durationMs), 'durationMs must be a number');
  for (const k of ['peersMissing', 'skipped', 'notes']) expect(Array.isArray(doc[k]), `${k} must be an array`);
  const ids = new Set<string>();
  if (!Array.isArray(doc.backends)) problems.push('backends must be an array');
  else for (const [i, b] of doc.backends.entries()) {
    if (!isObj(b) || typeof b.id !== 'string' || !['native', 'js', 'peer'].includes(b.kind as string) || typeof b.label !== 'string')
      problems.push(`backends[${i}] must be { id, kind: native|js|peer, label }`);
    else ids.add(b.id);
  }
  if (!Array.isArray(doc.cases)) return [...problems, 'cases must be an array'];
  doc.cases.forEach((c: unknown, i: number) => {
    const at = `cases[${i}]`;
    if (!isObj(c)) { problems.push(`${at} must be an object`); return; }
    for (const k of ['op', 'family', 'pass', 'shape']) expect(typeof c[k] === 'string', `${at}.${k} must be a string`);
    expect(isNum(c.elements) && isNum(c.bytes) && (c.bytes as number) > 0, `${at}.elements and bytes must be positive numbers`);
    stats(c.memcpy, `${at}.memcpy`);
    if (!Array.isArray(c.results)) { problems.push(`${at}.results must be an array`); return; }
    c.results.forEach((r: unknown, j: number) => {
      const rat = `${at}.results[${j}]`;
      if (!isObj(r)) { problems.push(`${rat} must be an object`); return; }
      expect(typeof r.backend === 'string' && ids.has(r.backend as string), `${rat}.backend must be one of backends[].id`);
      expect(['native', 'js', 'peer'].includes(r.kind as string), `${rat}.kind must be native, js or peer`);
      const ch = r.check;
      if (!isObj(ch)) problems.push(`${rat}.check must be an object`);
      else {
        expect(typeof ch.passed === 'boolean', `${rat}.check.passed must be a boolean`);
        expect(numOrNull(ch.maxRelError) && isNum(ch.tolerance), `${rat}.check.maxRelError/tolerance must be numbers`);
        expect(Array.isArray(ch.compared), `${rat}.check.compared must be an array`);
        expect(ch.problem === null || typeof ch.problem === 'string', `${rat}.check.problem must be a string or null`);
        if (ch.passed === false) expect(r.prealloc === null && r.alloc === null, `${rat}: a backend that failed its check must not be timed`);
      }
      stats(r.prealloc, `${rat}.prealloc`);
      stats(r.alloc, `${rat}.alloc`);
      stats(r.threaded, `${rat}.threaded`);
      stats(r.memcpy, `${rat}.memcpy`);
      expect((r.fractionOfMemcpy === null) === (r.memcpy === null || r.basis === null), `${rat}: fractionOfMemcpy goes with a timed backend's memcpy`);
      expect([null, 'prealloc', 'alloc'].includes(r.basis as string | null), `${rat}.basis must be prealloc, alloc or null`);
      for (const k of ['gbps', 'fractionOfMemcpy', 'speedupVsJs']) expect(numOrNull(r[k]), `${rat}.${k} must be a number or null`);
      expect(r.skipped === null || typeof r.skipped === 'string', `${rat}.skipped must be a string or null`);
    });
  });
  return problems;
}
