// What the command does once its arguments are parsed: --help, --info, --list, or a run and its outputs.
import * as os from 'node:os';

import * as nk from '../src/index';
import { HELP, type BenchOptions } from './args';
import { writeChart } from './chart';
import { OPS } from './registry';
import { renderJson, renderMarkdown, renderText } from './report';
import { modeSettings, runBench } from './run';

export function infoText(): string {
  const i = nk.backendInfo();
  const lines = [
    `backend:          ${i.backend === 'native' ? 'native (C++ SIMD kernels)' : 'js (TypeScript fallback)'}`,
    `instruction set:  ${i.isa ?? '— (native not in use)'}`,
  ];
  if (i.fallbackReason) lines.push(`why the fallback: ${i.fallbackReason}`);
  lines.push(
    `supported ISAs:   ${i.supportedIsas.join(', ') || '—'}`,
    `compiled ISAs:    ${i.compiledIsas.join(', ') || '—'}`,
    `CPU:              ${os.cpus()[0]?.model.trim() ?? 'unknown'} (${os.cpus().length} logical cores)`,
    `CPU features:     ${i.cpuFeatures.join(' ') || '— (reported by the native addon only)'}`,
    `addon:            ${i.addonPath ?? '—'}`,
    `normkit:          ${i.packageVersion}`,
    `Node.js:          ${i.nodeVersion} (${process.platform}-${process.arch}, N-API ${process.versions.napi ?? '?'}, V8 ${process.versions.v8})`,
  );
  return `${lines.join('\n')}\n`;
}

export function listText(o: BenchOptions): string {
  const lines = [`ops (${o.mode} shapes):`];
  for (const op of OPS) lines.push(`  ${op.name.padEnd(20)} ${`${op.family} ${op.pass}`.padEnd(28)} ${op.shapes[o.mode].join(' ')}`);
  return `${lines.join('\n')}\n`;
}

/** A one-line progress bar on stderr, redrawn in place; only on a terminal. */
function progressBar(enabled: boolean) {
  let last = 0;
  return {
    update(done: number, total: number, label: string) {
      if (!enabled) return;
      const now = Date.now();
      if (now - last < 80 && done < total) return;
      last = now;
      const width = 28, filled = Math.round((done / Math.max(total, 1)) * width);
      const cols = process.stderr.columns || 100;
      const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${label}`;
      process.stderr.write(`\r${line.slice(0, cols - 1).padEnd(cols - 1)}`);
    },
    clear() { if (enabled) process.stderr.write(`\r${' '.repeat((process.stderr.columns || 100) - 1)}\r`); },
  };
}

export async function main(o: BenchOptions, argv: readonly string[]): Promise<number> {
  if (o.help) { process.stdout.write(HELP); return 0; }
  if (o.info) { process.stdout.write(infoText()); return 0; }
  if (o.list) { process.stdout.write(listText(o)); return 0; }
  const bar = progressBar(o.progress ?? Boolean(process.stderr.isTTY));
  if (!o.json && process.stdout.isTTY) {
    const s = modeSettings(o);
    process.stdout.write(`normkit-bench (${o.mode}): ${s.budgetMs} ms per measurement${o.mode === 'full' ? '' : '; --full for every shape and longer budgets'}...\n`);
  }
  let report;
  try {
    report = await runBench(o, argv, { progress: (d, t, l) => bar.update(d, t, l) });
  } finally {
    bar.clear();
  }
  process.stdout.write(o.json ? renderJson(report) : o.markdown ? renderMarkdown(report) : renderText(report));
  if (o.chart) {
    writeChart(o.chart, report);
    if (!o.json) process.stdout.write(`chart written to ${o.chart}\n`);
  }
  // A failed check is a finding, not a crash: the exit code says so, for scripts.
  const failed = report.cases.some((c) => c.results.some((r) => !r.check.passed));
  if (failed && !o.json) process.stdout.write('some backends gave wrong results: see "check"\n');
  return failed ? 3 : 0;
}

