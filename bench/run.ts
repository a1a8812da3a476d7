// The run: for each op and shape of the registry, build the inputs once, compute the TypeScript backend's
// result, check every backend and peer against it, then time the ones that passed, next to a native
// memcpy of the same byte count.
import * as os from 'node:os';

import * as nk from '../src/index';
import { nativeAddon } from '../src/backend';
import { type BenchOptions, type Mode, PEER_NAMES, type PeerName, UsageError } from './args';
import { rng } from './data';
import { loadPeers, type LoadedPeer } from './peers';
import { type AnyOpEntry, type Arrays, compareResults, OPS, type PeerCase, selectOps } from './registry';
import type { BackendRef, BackendResult, CaseResult, CheckResult, Report } from './report';
import { SCHEMA } from './report';
import { parseShape, type ParsedShape } from './shapes';
import { collectGarbage, measure, pool, sample, type Samples, type Stats, stopWatchingGc, type TimingSettings } from './timing';

export interface ModeSettings extends TimingSettings {
  /** Budget of the allocating variant (a secondary number: shorter). */
  allocBudgetMs: number;
}

export const MODES: Record<Mode, ModeSettings> = {
  quick: { warmupMs: 10, budgetMs: 60, allocBudgetMs: 30, minSamples: 5, maxSamples: 300, sampleMs: 2 },
  default: { warmupMs: 20, budgetMs: 100, allocBudgetMs: 40, minSamples: 7, maxSamples: 1000, sampleMs: 3 },
  full: { warmupMs: 100, budgetMs: 1000, allocBudgetMs: 400, minSamples: 15, maxSamples: 5000, sampleMs: 5 },
};

export function modeSettings(o: Pick<BenchOptions, 'mode' | 'budgetMs'>): ModeSettings {
  const m = { ...MODES[o.mode] };
  if (o.budgetMs !== null) {
    m.budgetMs = o.budgetMs;
    m.allocBudgetMs = Math.max(1, Math.round(o.budgetMs / 2));
    m.warmupMs = Math.min(m.warmupMs, Math.max(1, Math.round(o.budgetMs / 4)));
    m.sampleMs = Math.min(m.sampleMs, Math.max(0.05, o.budgetMs / 20));
    m.minSamples = Math.min(m.minSamples, 5);
  }
  return m;
}

/** A backend of normkit to check and time: 'js' or one native instruction set. */
export interface Target extends BackendRef {
  use(): void;
}

const jsTarget: Target = { id: 'js', kind: 'js', label: 'TypeScript', use: () => nk.setBackend('js') };

function nativeTarget(isa: string): Target {
  return { id: `native:${isa}`, kind: 'native', label: `native ${isa}`, use: () => { nk.setBackend('native'); nk.setIsa(isa); } };
}

/**
 * The backends a --backends list selects (null: every native instruction set this CPU runs, then js), and
 * the peers it names. Throws with the reason for a backend this machine cannot run.
 */
export function resolveBackends(selectors: readonly string[] | null, info = nk.backendInfo()): { targets: Target[]; peers: PeerName[] } {
  const isas = info.nativeAvailable ? info.supportedIsas : [];
  if (!selectors) return { targets: [...isas.map(nativeTarget), jsTarget], peers: [] };
  const chosen = new Set<string>();
  const peers: PeerName[] = [];
  for (const raw of selectors) {
    const s = raw.toLowerCase();
    if (s === 'js' || s === 'ts' || s === 'typescript') { chosen.add('js'); continue; }
    if ((PEER_NAMES as readonly string[]).includes(s)) { peers.push(s as PeerName); continue; }
    const isa = s.startsWith('native:') ? s.slice('native:'.length) : s;
    if (s !== 'native' && !['avx512', 'avx2', 'neon', 'scalar'].includes(isa))
      throw new UsageError(`--backends: unknown backend '${raw}' (use js, native, native:ISA with ISA one of avx512, avx2, neon, scalar, or a peer: ${PEER_NAMES.join(', ')})`);
    if (!info.nativeAvailable) throw new UsageError(`--backends: '${raw}' needs the native addon, which is not available: ${info.fallbackReason}`);
    if (s === 'native') { for (const i of isas) chosen.add(i); continue; }
    if (!isas.includes(isa)) throw new UsageError(`--backends: this CPU cannot run ${isa} (it runs: ${isas.join(', ')})`);
    chosen.add(isa);
  }
  const targets = [...isas.filter((i) => chosen.has(i)).map(nativeTarget), ...(chosen.has('js') ? [jsTarget] : [])];
  return { targets, peers };
}

/** The shapes one op runs on: --shapes (those of a layout it takes) or its own list for the mode. */
export function shapesFor(op: AnyOpEntry, o: Pick<BenchOptions, 'mode' | 'shapes'>): { run: ParsedShape[]; rejected: ParsedShape[] } {
  const all = o.shapes ?? op.shapes[o.mode].map(parseShape);
  return { run: all.filter((s) => op.layouts.includes(s.layout)), rejected: all.filter((s) => !op.layouts.includes(s.layout)) };
}

function copyArrays(a: Arrays): Arrays {
  const out: Arrays = {};
  for (const [k, v] of Object.entries(a)) out[k] = v.slice();
  return out;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message.split('\n')[0] : String(e);
}

function check(ref: Arrays, got: Arrays | null, tolerance: number, failure: unknown = null): CheckResult {
  if (!got) return { passed: false, maxRelError: null, tolerance, compared: [], problem: errorText(failure) };
  const c = compareResults(ref, got);
  return { passed: c.problem === null && c.error <= tolerance, maxRelError: Number.isFinite(c.error) ? c.error : null, tolerance, compared: c.compared, problem: c.problem };
}

function rowChunks(rows: number, parts: number): Array<[number, number]> {
  const n = Math.max(1, Math.min(parts, rows));
  return Array.from({ length: n }, (_, k) => [Math.floor((k * rows) / n), Math.floor(((k + 1) * rows) / n)]);
}

export interface RunHooks {
  /** Called before each step; total is fixed once the plan is made. */
  progress?(done: number, total: number, label: string): void;
}

/** Runs the benchmark o describes over the ops of the registry (or others: the tests pass their own). */
export async function runBench(o: BenchOptions, argv: readonly string[], hooks: RunHooks = {}, registry: readonly AnyOpEntry[] = OPS): Promise<Report> {
  const started = Date.now();
  const date = new Date(started).toISOString();
  const settings = modeSettings(o);
  const info = nk.backendInfo();
  const { targets, peers: peersFromBackends } = resolveBackends(o.backends, info);
  const peerNames = [...new Set([...o.peers, ...peersFromBackends])];
  const { loaded: peers, missing: peersMissing } = await loadPeers(peerNames);
  const skipped: Report['skipped'] = [];
  const notes: string[] = [];

  // The plan: (op, shape) cases; shapes of a layout the op does not take are set aside with the reason.
  const plan: Array<{ op: AnyOpEntry; shape: ParsedShape }> = [];
  for (const op of selectOps(o.ops, registry)) {
    const { run, rejected } = shapesFor(op, o);
    for (const s of rejected) skipped.push({ op: op.name, shape: s.text, reason: `takes ${op.layouts.join('/')} shapes only` });
    for (const shape of run) plan.push({ op, shape });
    if (op.note && peers.length > 0) notes.push(`${op.name}: ${op.note}`);
  }
  if (!info.nativeAvailable) notes.push(`native addon unavailable, TypeScript only: ${info.fallbackReason}`);
  if (!targets.some((t) => t.id === 'js')) notes.push('the TypeScript backend is the reference of the checks but was not timed (--backends): no "vs TS"');
  if (o.threads > 1) notes.push(`threaded: ${o.threads} concurrent async calls over row slices, for ops with independent rows, native backends only`);

  const steps = plan.length * (targets.length + peers.length + 1);
  let done = 0;
  const step = (label: string) => hooks.progress?.(done++, steps, label);

  const addon = nativeAddon();
  const memcpyMethod = addon ? 'native memcpy' : 'TypedArray.set (native addon unavailable)';
  // The yardstick: a copy of as many bytes as the op must move, half read and half written.
  const copyOf = (bytes: number): Yardstick => {
    const floats = Math.max(1, Math.ceil(bytes / 8));
    const src = new Float32Array(floats).fill(1), dst = new Float32Array(floats);
    return { floats, samples: [], copy: addon ? () => addon.copy(floats, src, dst) : () => dst.set(src) };
  };

  const cases: CaseResult[] = [];
  for (const { op, shape } of plan) {
    step(`${op.name} ${shape.text}: inputs and reference`);
    // Inputs and the reference result, on the TypeScript backend.
    nk.setBackend('js');
    let inputs: unknown, ref: Arrays;
    try {
      inputs = op.build(shape, rng(o.seed));
      const out = op.allocate(inputs);
      op.call(inputs, out);
      ref = copyArrays(out);
    } catch (e) {
      skipped.push({ op: op.name, shape: shape.text, reason: `the TypeScript backend failed: ${errorText(e)}` });
      done += targets.length + peers.length;
      continue;
    }
    const bytes = op.bytes(inputs);
    const yardstick = copyOf(bytes);
    const results: BackendResult[] = [];

    for (const t of targets) {
      step(`${op.name} ${shape.text}: ${t.label}`);
      results.push(await runTarget(op, inputs, ref, t, o.threads, settings, yardstick));
    }
    for (const p of peers) {
      step(`${op.name} ${shape.text}: ${p.label}`);
      results.push(await runPeer(op, inputs, ref, p, shape, settings, yardstick));
    }
    // No backend timed (all failed their checks): the yardstick alone, for the table's memcpy row.
    if (yardstick.samples.length === 0) yardstick.samples.push(await sample(yardstick.copy, settings, { dropGcSamples: true }));
    const pooled = pool(yardstick.samples);
    const memcpy = { ...pooled, gbps: (8 * yardstick.floats) / pooled.medianNs, method: memcpyMethod };
    nk.setBackend(info.nativeAvailable ? 'native' : 'js');
    if (info.nativeAvailable) nk.setIsa('auto');

    // Derived numbers, each on its basis (preallocated, or allocating for peers).
    const time = (r: BackendResult) => (r.basis === 'alloc' ? r.alloc : r.basis === 'prealloc' ? r.prealloc : null)?.medianNs ?? null;
    const js = results.find((r) => r.backend === 'js');
    const jsNs = js ? time(js) : null;
    for (const r of results) {
      const t = time(r);
      if (t === null) continue;
      r.gbps = bytes / t;
      r.fractionOfMemcpy = r.memcpy ? r.memcpy.medianNs / t : null;
      r.speedupVsJs = jsNs !== null && r.backend !== 'js' ? jsNs / t : null;
    }
    cases.push({ op: op.name, family: op.family, pass: op.pass, shape: shape.text, elements: shape.dims.reduce((a, b) => a * b, 1), bytes, memcpy, results });
    inputs = null;
    collectGarbage();
  }
  hooks.progress?.(steps, steps, 'done');
  for (const p of peers) if (p.name === 'onnxruntime') notes.push('onnxruntime runs with intraOpNumThreads = 1 (single-threaded, as normkit\'s kernels)');
  stopWatchingGc();

  const backends: BackendRef[] = [
    ...targets.map(({ id, kind, label }) => ({ id, kind, label })),
    ...peers.map((p) => ({ id: p.name, kind: 'peer' as const, label: `${p.label} ${p.version}` })),
  ];
  return {
    schema: SCHEMA, date, command: ['normkit-bench', ...argv].join(' '), mode: o.mode,
    settings: {
      warmupMs: settings.warmupMs, budgetMs: settings.budgetMs, allocBudgetMs: settings.allocBudgetMs,
      minSamples: settings.minSamples, maxSamples: settings.maxSamples, sampleMs: settings.sampleMs, threads: o.threads, seed: o.seed,
    },
    machine: {
      cpu: os.cpus()[0]?.model.trim() ?? 'unknown CPU', cores: os.cpus().length, platform: process.platform, arch: process.arch,
      node: process.version, packageVersion: info.packageVersion, nativeAvailable: info.nativeAvailable, isa: info.isa,
      supportedIsas: info.supportedIsas, fallbackReason: info.fallbackReason,
    },
    backends, peersMissing, skipped, notes, cases, durationMs: Date.now() - started,
  };
}

function emptyResult(id: string, kind: BackendResult['kind'], c: CheckResult, skippedReason: string | null): BackendResult {
  return { backend: id, kind, check: c, prealloc: null, alloc: null, threaded: null, basis: null, gbps: null, memcpy: null, fractionOfMemcpy: null, speedupVsJs: null, skipped: skippedReason };
}

/** The memcpy an op is measured against, and its samples so far in this case (every backend's, pooled). */
interface Yardstick {
  floats: number;
  copy: () => void;
  samples: Samples[];
}

// Times `timed` (a backend's headline timing) with the memcpy yardstick timed just before and just after it,
// half the budget each, and returns both. The machine's bandwidth drifts by 10-30% within minutes (it is
// shared); one memcpy per size for the whole run put that drift into the ratios, this pairing keeps it out.
async function besideMemcpy(yardstick: Yardstick, settings: ModeSettings, timed: () => Promise<Stats>): Promise<{ stats: Stats; memcpy: Stats }> {
  const half = { ...settings, budgetMs: settings.budgetMs / 2 };
  const before = await sample(yardstick.copy, half, { dropGcSamples: true });
  const stats = await timed();
  const after = await sample(yardstick.copy, half, { dropGcSamples: true });
  yardstick.samples.push(before, after);
  return { stats, memcpy: pool([before, after]) };
}

async function runTarget(op: AnyOpEntry, inputs: unknown, ref: Arrays, t: Target, threads: number, settings: ModeSettings, yardstick: Yardstick): Promise<BackendResult> {
  t.use();
  const out = op.allocate(inputs);
  let c: CheckResult;
  try {
    op.call(inputs, out);
    c = check(ref, out, op.tolerance);
  } catch (e) {
    c = check(ref, null, op.tolerance, e);
  }
  if (!c.passed) return emptyResult(t.id, t.kind, c, 'failed its check: not timed');

  const { stats: prealloc, memcpy } = await besideMemcpy(yardstick, settings, () => measure(() => op.call(inputs, out), settings, { dropGcSamples: true }));
  const alloc = await measure(() => op.callAllocating(inputs), { ...settings, budgetMs: settings.allocBudgetMs }, { dropGcSamples: false });
  let threaded: BackendResult['threaded'] = null;
  const chunks = op.rowSlices ? rowChunks(op.rowSlices.rows(inputs), threads) : [];
  if (chunks.length > 1 && t.kind === 'native' && op.rowSlices) {
    const slices = op.rowSlices;
    const tout = op.allocate(inputs);
    const fn = () => Promise.all(chunks.map(([a, b]) => slices.call(inputs, tout, a, b)));
    await fn();
    const tc = check(ref, tout, op.tolerance);
    if (tc.passed) threaded = { ...(await measure(fn, settings, { dropGcSamples: true })), threads: chunks.length };
    else c = { ...tc, problem: 'the threaded (row-sliced async) result differs from the reference' };
  }
  return { ...emptyResult(t.id, t.kind, c, null), prealloc, alloc, threaded, basis: 'prealloc', memcpy };
}

async function runPeer(op: AnyOpEntry, inputs: unknown, ref: Arrays, p: LoadedPeer, shape: ParsedShape, settings: ModeSettings, yardstick: Yardstick): Promise<BackendResult> {
  const make = op.peers?.[p.name];
  const unsupported = (why: string) => emptyResult(p.name, 'peer', { passed: true, maxRelError: null, tolerance: op.tolerance, compared: [], problem: null }, why);
  if (!make) return unsupported(`${p.label} has no ${op.name} here`);
  let peerCase: PeerCase;
  try {
    peerCase = await make(p.lib, inputs, { threads: 1 });
  } catch (e) {
    return unsupported(`${p.label} cannot run ${op.name} ${shape.text}: ${errorText(e)}`);
  }
  try {
    let c: CheckResult;
    try {
      c = check(ref, copyArrays(await peerCase.run()), op.tolerance);
    } catch (e) {
      c = check(ref, null, op.tolerance, e);
    }
    if (!c.passed) return emptyResult(p.name, 'peer', c, 'failed its check: not timed');
    const { stats: alloc, memcpy } = await besideMemcpy(yardstick, settings, () => measure(() => peerCase.run(), settings, { dropGcSamples: false }));
    return { ...emptyResult(p.name, 'peer', c, null), alloc, basis: 'alloc', memcpy };
  } finally {
    peerCase.dispose?.();
  }
}

export type { Stats };
