// The results as a picture: for each op and shape, one horizontal bar per backend whose length is the GB/s
// it reaches on the op's minimal bytes, with the memcpy of the same bytes drawn as a dashed line (the
// machine's limit). Written as a standalone SVG, or an HTML page holding the SVG and the table.
import * as fs from 'node:fs';

import { formatBytes, formatNumber, formatRatio, formatTime, type Report, TABLE_HEADER, tableRows } from './report';

// Natives in blues and greens, the TypeScript backend and each peer in a colour of its own.
const PALETTE = ['#1f6feb', '#2da44e', '#0a7f86', '#6e7781', '#54aeff', '#116329'];
const FIXED: Record<string, string> = { js: '#e16f24', tfjs: '#bf8700', onnxruntime: '#8250df' };

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A "nice" axis maximum (1, 2, 2.5, 5 x 10^k) at or above v. */
export function niceCeil(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v * (1 - 1e-12)) return m * p;
  return 10 * p;
}

export function renderSvg(report: Report): string {
  const colors = new Map<string, string>();
  let next = 0;
  for (const b of report.backends) colors.set(b.id, FIXED[b.id] ?? PALETTE[next++ % PALETTE.length]);
  const label = new Map(report.backends.map((b) => [b.id, b.label]));

  const W = 960, left = 250, right = 150, plotW = W - left - right;
  const barH = 14, barGap = 4, groupGap = 18, headH = 18;
  const maxGbps = Math.max(1e-9, ...report.cases.flatMap((c) => [c.memcpy?.gbps ?? 0, ...c.results.map((r) => r.gbps ?? 0)]));
  const axisMax = niceCeil(maxGbps);
  const x = (gbps: number) => left + (Math.min(gbps, axisMax) / axisMax) * plotW;

  const parts: string[] = [];
  const text = (tx: number, ty: number, s: string, attrs = '') => parts.push(`<text x="${tx.toFixed(1)}" y="${ty.toFixed(1)}"${attrs ? ` ${attrs}` : ''}>${escapeXml(s)}</text>`);

  // Title and legend.
  let y = 24;
  text(16, y, `normkit-bench${report.mode === 'default' ? '' : ` --${report.mode}`}: GB/s per op and shape`, 'class="title"');
  y += 18;
  text(16, y, 'GB/s on the op\'s minimal bytes (longer is faster), one bar per backend, with time per call and speed-up over TypeScript; dashed: memcpy', 'class="sub"');
  y += 14;
  text(16, y, `${report.machine.cpu}, ${report.machine.cores} cores, ${report.machine.platform}-${report.machine.arch}, Node ${report.machine.node}, ${report.date.slice(0, 10)}`, 'class="sub"');
  y += 14;
  let lx = 16;
  for (const b of report.backends) {
    parts.push(`<rect x="${lx}" y="${y}" width="12" height="12" fill="${colors.get(b.id)}"/>`);
    text(lx + 16, y + 10.5, b.label, 'class="legend"');
    lx += 16 + b.label.length * 6.6 + 18;
  }
  parts.push(`<line x1="${lx}" y1="${y + 6}" x2="${lx + 22}" y2="${y + 6}" class="memcpy"/>`);
  text(lx + 26, y + 10.5, 'memcpy (the bandwidth limit)', 'class="legend"');
  y += 30;
  const plotTop = y;

  for (const c of report.cases) {
    parts.push(`<text x="16" y="${y + 12}"><tspan class="group">${escapeXml(`${c.op} ${c.shape}`)}</tspan>` +
      `<tspan class="sub" dx="10">${escapeXml(`${c.pass}, ${formatBytes(c.bytes)} moved`)}</tspan></text>`);
    y += headH + 4;
    const top = y;
    for (const r of c.results) {
      const name = label.get(r.backend) ?? r.backend;
      text(left - 8, y + barH - 3, name, 'text-anchor="end" class="bar-label"');
      const t = (r.basis === 'alloc' ? r.alloc : r.prealloc)?.medianNs ?? null;
      if (!r.check.passed) {
        text(left + 4, y + barH - 3, `WRONG RESULT (error ${r.check.maxRelError?.toExponential(1) ?? r.check.problem}): not timed`, 'class="wrong"');
      } else if (r.gbps === null || t === null) {
        text(left + 4, y + barH - 3, r.skipped ?? 'not timed', 'class="sub"');
      } else {
        const w = Math.max(1, x(r.gbps) - left);
        parts.push(`<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${colors.get(r.backend)}"><title>${escapeXml(`${name}: ${r.gbps.toFixed(2)} GB/s, ${formatTime(t)} per call`)}</title></rect>`);
        const speed = r.speedupVsJs !== null ? ` · ${formatRatio(r.speedupVsJs)} TS` : '';
        text(left + w + 4, y + barH - 3, `${formatNumber(r.gbps, r.gbps >= 10 ? 0 : 1)} GB/s · ${formatTime(t)}${speed}`, 'class="value"');
      }
      y += barH + barGap;
    }
    if (c.memcpy) {
      const mx = x(c.memcpy.gbps);
      parts.push(`<line x1="${mx.toFixed(1)}" y1="${top - 3}" x2="${mx.toFixed(1)}" y2="${y - barGap + 3}" class="memcpy"><title>memcpy ${c.memcpy.gbps.toFixed(1)} GB/s</title></line>`);
      text(mx + 3, top - 5, `memcpy ${c.memcpy.gbps.toFixed(0)} GB/s`, 'class="memcpy-label"');
    }
    y += groupGap;
  }

  // Axis with gridlines.
  const ticks = 5;
  for (let k = 0; k <= ticks; k++) {
    const v = (axisMax * k) / ticks, gx = x(v);
    parts.unshift(`<line x1="${gx.toFixed(1)}" y1="${plotTop - 8}" x2="${gx.toFixed(1)}" y2="${y - groupGap + 4}" class="grid"/>`);
    text(gx, y, `${Number(v.toPrecision(3))}`, 'text-anchor="middle" class="axis"');
  }
  text(left + plotW / 2, y + 16, 'GB/s (higher is better)', 'text-anchor="middle" class="axis"');
  const H = Math.ceil(y + 28);

  const style = [
    'text{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;fill:#1f2328}',
    '.title{font-size:15px;font-weight:600}', '.sub{font-size:11px;fill:#59636e}', '.legend{font-size:12px}',
    '.group{font-size:13px;font-weight:600}', '.bar-label{font-size:12px}', '.value{font-size:11px;fill:#333;paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}',
    '.axis{font-size:11px;fill:#59636e}', '.wrong{font-size:12px;fill:#cf222e;font-weight:600}',
    '.grid{stroke:#d8dee4;stroke-width:1}', '.memcpy{stroke:#cf222e;stroke-width:2;stroke-dasharray:5 3}',
    '.memcpy-label{font-size:10px;fill:#cf222e}',
  ].join('');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="normkit-bench results">`,
    `<style>${style}</style>`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}

export function renderHtml(report: Report): string {
  const rows = tableRows(report);
  const header = ['op', 'shape', 'backend', 'median', 'spread', 'GB/s', 'of memcpy', 'vs TS', 'allocating', 'threaded', 'check'];
  const cell = (tag: string, s: string) => `<${tag}>${escapeXml(s)}</${tag}>`;
  return [
    '<!doctype html>', '<html lang="en"><head><meta charset="utf-8"><title>normkit-bench</title>',
    '<style>body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:24px;color:#1f2328}',
    'table{border-collapse:collapse;font-size:13px}td,th{padding:2px 8px;border-bottom:1px solid #d8dee4;text-align:right}',
    'td:nth-child(-n+3),th:nth-child(-n+3),td:last-child{text-align:left}</style></head><body>',
    `<h1>normkit-bench</h1><p>${escapeXml(report.command)} — ${escapeXml(report.date)}</p>`,
    renderSvg(report),
    `<table><thead><tr>${TABLE_HEADER.map((h) => cell('th', h)).join('')}</tr></thead><tbody>`,
    ...rows.map((r) => `<tr>${r.map((c) => cell('td', c)).join('')}</tr>`),
    '</tbody></table></body></html>', '',
  ].join('\n');
}

/** Writes the chart: SVG, or HTML when the file name ends in .html/.htm. */
export function writeChart(file: string, report: Report): void {
  fs.writeFileSync(file, /\.html?$/i.test(file) ? renderHtml(report) : renderSvg(report));
}
