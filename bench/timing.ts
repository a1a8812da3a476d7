// How one thing is timed: warm-up (which also calibrates how many calls one sample holds), a full GC, then
// samples until the time budget is spent; median and interquartile range of the time per call. Samples
// that a garbage collection overlapped are dropped when asked (preallocated outputs: a GC there is noise,
// not the op's cost), kept otherwise (allocating calls: collecting their garbage is part of their cost).
import { PerformanceObserver, performance } from 'node:perf_hooks';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';

export interface TimingSettings {
  /** Warm-up time before sampling (at least 2 calls). */
  warmupMs: number;
  /** Sampling stops once this much time is spent and minSamples are taken. */
  budgetMs: number;
  minSamples: number;
  maxSamples: number;
  /** A sample repeats the call until it lasts about this long (timer resolution, call overhead). */
  sampleMs: number;
}

export interface Stats {
  /** Median time per call, nanoseconds. */
  medianNs: number;
  /** First and third quartiles of the time per call. */
  q1Ns: number;
  q3Ns: number;
  /** q3 - q1. */
  iqrNs: number;
  minNs: number;
  /** Samples the statistics are over. */
  samples: number;
  /** Calls per sample. */
  callsPerSample: number;
  /** Samples dropped because a garbage collection ran during them. */
  gcDropped: number;
}

/** The q-quantile (0..1) of sorted values, linearly interpolated. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function summarize(perCallNs: readonly number[], callsPerSample: number, gcDropped: number): Stats {
  const s = [...perCallNs].sort((a, b) => a - b);
  const q1 = quantile(s, 0.25), q3 = quantile(s, 0.75);
  const r = (v: number) => Math.round(v * 100) / 100; // 0.01 ns: more would be noise in the JSON
  return { medianNs: r(quantile(s, 0.5)), q1Ns: r(q1), q3Ns: r(q3), iqrNs: r(q3 - q1), minNs: r(s[0]), samples: s.length, callsPerSample, gcDropped };
}

// A full collection on demand, between measurements (node started without --expose-gc: enable it now).
let gcFn: (() => void) | null = null;
export function collectGarbage(): void {
  if (!gcFn) {
    v8.setFlagsFromString('--expose-gc');
    gcFn = vm.runInNewContext('gc') as () => void;
  }
  gcFn();
}

// Garbage collections seen, as [start, end] in performance.now() time.
const gcSpans: Array<[number, number]> = [];
let observer: PerformanceObserver | null = null;
function watchGc(): void {
  if (observer) return;
  observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcSpans.push([e.startTime, e.startTime + e.duration]);
  });
  observer.observe({ entryTypes: ['gc'] });
}
/** Stops watching garbage collections (lets the process exit promptly). */
export function stopWatchingGc(): void {
  observer?.disconnect();
  observer = null;
}

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** The samples of one measurement: time per call of each kept sample, before any statistics. */
export interface Samples {
  perCallNs: number[];
  callsPerSample: number;
  gcDropped: number;
}

/**
 * Times fn (sync, or async when it returns a Promise, awaited per call). Returns the statistics of the
 * time per call.
 */
export async function measure(fn: () => unknown, settings: TimingSettings, options: { dropGcSamples: boolean }): Promise<Stats> {
  const s = await sample(fn, settings, options);
  return summarize(s.perCallNs, s.callsPerSample, s.gcDropped);
}

/** Statistics over several measurements of the same thing, their samples pooled. */
export function pool(parts: readonly Samples[]): Stats {
  return summarize(parts.flatMap((p) => p.perCallNs), Math.max(...parts.map((p) => p.callsPerSample)),
    parts.reduce((n, p) => n + p.gcDropped, 0));
}

/** measure() without the statistics: the samples, to be pooled with others (pool()). */
export async function sample(fn: () => unknown, settings: TimingSettings, options: { dropGcSamples: boolean }): Promise<Samples> {
  watchGc();
  const call = async (n: number): Promise<number> => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const r = fn();
      if (r instanceof Promise) await r;
    }
    return performance.now() - t0;
  };

  // Warm-up: two calls (one when a call outlasts the whole budget), then until warmupMs; the later,
  // longer batches calibrate the calls per sample.
  let calls = 0, spent = 0, perCallMs = Infinity;
  while (calls < 2 || spent < settings.warmupMs) {
    if (calls === 1 && spent > settings.budgetMs) break;
    const batch = Math.max(1, Math.min(1 << 20, Math.floor(calls / 2)));
    const t = await call(batch);
    calls += batch;
    spent += t;
    perCallMs = Math.min(perCallMs, t / batch);
  }
  const callsPerSample = Math.max(1, Math.min(1 << 24, Math.round(settings.sampleMs / Math.max(perCallMs, 1e-6))));

  collectGarbage();
  await tick();
  const first = gcSpans.length;
  const samples: Array<[number, number, number]> = []; // start, end, per-call ms
  const start = performance.now();
  // Calls far slower than the budget (a slow peer on a large shape) get 3 samples, not minSamples.
  const hardStopMs = Math.max(10 * settings.budgetMs, 1000);
  const enough = () => {
    const elapsed = performance.now() - start;
    if (samples.length >= settings.maxSamples) return true;
    if (samples.length < 3) return false;
    if (samples.length < settings.minSamples) return elapsed >= hardStopMs;
    return elapsed >= settings.budgetMs;
  };
  while (!enough()) {
    const t0 = performance.now();
    await call(callsPerSample);
    const t1 = performance.now();
    samples.push([t0, t1, (t1 - t0) / callsPerSample]);
  }
  await tick(); // let the observer deliver the collections of the sampling loop
  const spans = gcSpans.splice(first);
  gcSpans.length = 0;
  let kept = samples;
  if (options.dropGcSamples && spans.length > 0) {
    const clean = samples.filter(([t0, t1]) => !spans.some(([g0, g1]) => g0 < t1 && t0 < g1));
    // Keep every sample if collections hit nearly all of them: then they are part of the op's cost.
    if (clean.length >= Math.max(3, samples.length / 2)) kept = clean;
  }
  return { perCallNs: kept.map((s) => s[2] * 1e6), callsPerSample, gcDropped: samples.length - kept.length };
}
