// The NEON kernels, on a machine without an arm64 CPU: cross-compiled with Debian's aarch64-linux-gnu-g++
// and run under qemu-aarch64 against the scalar baseline (test/native/neon_check.cpp). .ci/run installs both
// tools; where they are missing the test is skipped, and says so.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');
const compiler = 'aarch64-linux-gnu-g++';
const emulator = 'qemu-aarch64';
const onPath = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const tools = process.arch !== 'arm64' && onPath(compiler) && onPath(emulator);
if (!tools && process.arch !== 'arm64')
  console.warn(`NEON kernels not checked: ${compiler} and ${emulator} are needed (Debian: g++-aarch64-linux-gnu, qemu-user)`);

// The instruction-set files from native/sources.gypi, the one list of native sources: NEON's, and the
// scalar baseline's kernels.
function isaSources(): string[] {
  const gypi = fs.readFileSync(path.join(root, 'native', 'sources.gypi'), 'utf8');
  const list = (name: string) => {
    const m = gypi.match(new RegExp(`'${name}':\\s*\\[([^\\]]*)\\]`));
    return m ? [...m[1].matchAll(/'([^']+)'/g)].map((q) => q[1]) : [];
  };
  return [...list('normkit_neon_sources'), ...list('normkit_baseline_sources').filter((f) => f.includes('/isa/'))];
}

describe('NEON kernels (cross-compiled, under qemu)', () => {
  it.skipIf(!tools)('match the scalar baseline, and give the same bits wherever the buffers sit', () => {
    const sources = isaSources();
    expect(sources).toEqual(['native/isa/neon.cpp', 'native/isa/scalar.cpp']);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'normkit-neon-'));
    try {
      const exe = path.join(dir, 'neon_check');
      execFileSync(compiler, ['-std=c++17', '-O2', '-fno-math-errno', '-static', `-I${path.join(root, 'native')}`,
        path.join(root, 'test', 'native', 'neon_check.cpp'), ...sources.map((f) => path.join(root, f)), '-o', exe]);
      const run = spawnSync(emulator, [exe], { encoding: 'utf8' });
      expect(run.stdout, run.stderr).toMatch(/^0 failures$/m);
      expect(run.status).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);
});
