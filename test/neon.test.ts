// The NEON kernels, on a machine without an arm64 CPU: cross-compiled with Debian's aarch64-linux-gnu-g++
// and run under qemu-aarch64: against the scalar baseline (test/native/neon_check.cpp), and with every buffer
// against guard pages (test/native/bounds_check.cpp, as test/bounds.test.ts does natively, but without its
// large shapes, which take minutes under emulation). .ci/run installs both tools; where they are missing the
// tests are skipped, and say so.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { buildPrograms, kernelSources, onPath } from './native/build';

const compiler = 'aarch64-linux-gnu-g++';
const emulator = 'qemu-aarch64';
const tools = process.arch !== 'arm64' && onPath(compiler) && onPath(emulator);
if (!tools && process.arch !== 'arm64')
  console.warn(`NEON kernels not checked: ${compiler} and ${emulator} are needed (Debian: g++-aarch64-linux-gnu, qemu-user)`);

describe('NEON kernels (cross-compiled, under qemu)', () => {
  const dir = tools ? fs.mkdtempSync(path.join(os.tmpdir(), 'normkit-neon-')) : '';
  afterAll(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });
  let programs: Promise<string[]> | undefined;
  const build = () => {
    const sources = kernelSources('arm64');
    expect(sources.map((s) => s.file)).toEqual(['native/core/dispatch.cpp', 'native/isa/scalar.cpp', 'native/isa/neon.cpp']);
    return (programs ??= buildPrograms(compiler, sources, ['test/native/neon_check.cpp', 'test/native/bounds_check.cpp'],
      ['-O2', '-static'], dir));
  };

  it.skipIf(!tools)('match the scalar baseline, and give the same bits wherever the buffers sit', async () => {
    const [neonCheck] = await build();
    const run = spawnSync(emulator, [neonCheck], { encoding: 'utf8' });
    expect(run.stdout, run.stderr).toMatch(/^0 failures$/m);
    expect(run.status).toBe(0);
  }, 240_000);

  it.skipIf(!tools)('never touch memory outside their buffers, nor write their inputs', async () => {
    const [, boundsCheck] = await build();
    const fault = spawnSync(emulator, [boundsCheck, 'overread'], { encoding: 'utf8' });
    expect(fault.stderr).toMatch(/0 bytes past the end of 'x'/);
    const run = spawnSync(emulator, [boundsCheck, 'quick'], { encoding: 'utf8', maxBuffer: 1 << 24 });
    const report = run.stdout + run.stderr;
    expect(report, report).toMatch(/^\d+ cases, 0 faults$/m);
    expect(report).toContain('neon checked');
    expect(run.status, report).toBe(0);
  }, 240_000);
});
