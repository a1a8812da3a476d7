// Every native kernel with each buffer flush against an inaccessible page and each input read-only
// (test/native/bounds_check.cpp), for every instruction set this CPU runs: a read past either end of a
// buffer, or a write into an input, faults and names the case. Built twice from native/sources.gypi: as
// the addon is (optimised), and with AddressSanitizer and UBSan (unoptimised, without the large shapes),
// which also watch the kernels' own stack arrays and arithmetic. NEON: test/neon.test.ts, under qemu.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { nk } from './helpers';
import { buildPrograms, kernelSources, onPath } from './native/build';

const compiler = process.env.CXX || 'g++';
const posix = process.platform === 'linux' || process.platform === 'darwin';
const tools = posix && onPath(compiler);
if (!tools) console.warn(`native bounds check skipped: needs ${compiler} (set CXX) on Linux or macOS`);

// The sanitizers need their runtime libraries, which come with g++ (libasan, libubsan) but not everywhere.
function sanitizersWork(dir: string): boolean {
  const src = path.join(dir, 'probe.cpp'), exe = path.join(dir, 'probe');
  fs.writeFileSync(src, 'int main() { return 0; }\n');
  const built = spawnSync(compiler, ['-fsanitize=address,undefined', src, '-o', exe]).status === 0;
  return built && spawnSync(exe).status === 0;
}

function expectNoFault(exe: string, args: string[], isas: string[]) {
  const run = spawnSync(exe, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
  const report = run.stdout + run.stderr;
  expect(report, report).toMatch(/^\d+ cases, 0 faults$/m);
  for (const isa of isas) expect(report).toContain(`${isa} checked`);
  expect(run.status, report).toBe(0);
}

describe('native kernels never touch memory outside their buffers, nor write their inputs', () => {
  const dir = tools ? fs.mkdtempSync(path.join(os.tmpdir(), 'normkit-bounds-')) : '';
  afterAll(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });
  // The harness picks instruction sets with the addon's own dispatch code: it must check the addon's list.
  const info = nk.backendInfo();
  const isas = info.nativeAvailable ? info.supportedIsas : ['scalar'];
  const program = 'test/native/bounds_check.cpp';
  const build = (name: string, flags: string[]) => {
    fs.mkdirSync(path.join(dir, name));
    return buildPrograms(compiler, kernelSources(process.arch), [program], flags, path.join(dir, name));
  };

  it.skipIf(!tools)('every op and shape, every instruction set, buffers flush against guard pages', async () => {
    const [exe] = await build('optimised', ['-O2']);
    // First, that the harness catches what it is there for, and names it.
    const expected: Record<string, RegExp> = {
      overread: /0 bytes past the end of 'x' \(20 bytes\)/,
      underread: /4 bytes before the start of 'x'/,
      'write-input': /a write into the input 'x', 8 bytes in/,
    };
    for (const [mode, message] of Object.entries(expected)) {
      const run = spawnSync(exe, [mode], { encoding: 'utf8' });
      expect(run.stderr, mode).toMatch(message);
      expect(run.status, mode).toBe(2);
    }
    expectNoFault(exe, [], isas);
  }, 300_000);

  it.skipIf(!tools)('the same under AddressSanitizer and UBSan', async () => {
    if (!sanitizersWork(dir)) {
      console.warn(`sanitizer check skipped: ${compiler} cannot build and run -fsanitize=address,undefined here`);
      return;
    }
    const flags = ['-O0', '-fsanitize=address,undefined', '-fno-sanitize-recover=all'];
    const [exe] = await build('sanitized', flags);
    expectNoFault(exe, ['quick'], isas);
  }, 300_000);
});
