// The native addon itself: that it loaded, how the instruction set is chosen and forced, how the fallback
// explains itself, and that the baseline object code carries no AVX instruction.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { describe, expect, it } from 'vitest';

import { nk } from './helpers';

const root = path.resolve(__dirname, '..');
const entry = path.join(root, 'dist', 'src', 'index.js');

function runWithEnv(env: Record<string, string>, code: string) {
  return spawnSync(process.execPath, ['-e', code], { env: { ...process.env, ...env }, encoding: 'utf8' });
}

describe('the native addon', () => {
  it('is built and loaded (set NORMKIT_BACKEND=js to test the TypeScript backend alone)', () => {
    const info = nk.backendInfo();
    if (process.env.NORMKIT_BACKEND === 'js') {
      expect(info.backend).toBe('js');
      return;
    }
    expect(info.fallbackReason).toBeNull();
    expect(info.nativeAvailable).toBe(true);
    expect(info.supportedIsas).toContain('scalar');
    expect(info.isa).toBe(info.supportedIsas[0]);
  });

  it('NORMKIT_ISA forces an instruction set; an unusable one fails the import with the reason', () => {
    if (!nk.backendInfo().nativeAvailable) return;
    const code = `const nk = require(${JSON.stringify(entry)}); console.log(nk.backendInfo().isa)`;
    const forced = runWithEnv({ NORMKIT_ISA: 'scalar' }, code);
    expect(forced.stdout.trim()).toBe('scalar');
    const bogus = runWithEnv({ NORMKIT_ISA: 'sse9' }, code);
    expect(bogus.status).not.toBe(0);
    expect(bogus.stderr).toContain("unknown instruction set 'sse9'");
    const other = process.arch === 'arm64' ? 'avx2' : 'neon';
    const unavailable = runWithEnv({ NORMKIT_ISA: other }, code);
    expect(unavailable.status).not.toBe(0);
    expect(unavailable.stderr).toMatch(/not compiled into this build/);
  });

  it('NORMKIT_BACKEND=js falls back to TypeScript and says why', () => {
    const code = `const nk = require(${JSON.stringify(entry)}); console.log(JSON.stringify(nk.backendInfo()))`;
    const out = runWithEnv({ NORMKIT_BACKEND: 'js' }, code);
    const info = JSON.parse(out.stdout);
    expect(info.backend).toBe('js');
    expect(info.isa).toBeNull();
    expect(info.fallbackReason).toMatch(/NORMKIT_BACKEND=js/);
    const y = runWithEnv({ NORMKIT_BACKEND: 'js' },
      `const nk = require(${JSON.stringify(entry)}); console.log(nk.layerNorm(new Float32Array([1,2,3,4]), [4], 4).output[3].toFixed(4))`);
    expect(y.stdout.trim()).toBe('1.3416');
  });

  it('a missing or unloadable addon falls back to TypeScript with a reason a user can act on', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'normkit-fallback-'));
    try {
      for (const f of ['package.json', 'binding.gyp']) fs.copyFileSync(path.join(root, f), path.join(dir, f));
      fs.cpSync(path.join(root, 'dist'), path.join(dir, 'dist'), { recursive: true });
      const code = `const nk = require(${JSON.stringify(path.join(dir, 'dist', 'src', 'index.js'))});
        const info = nk.backendInfo();
        const y = nk.rmsNorm(new Float32Array([3, 4]), [2], 2, { eps: 0 }).output;
        console.log(JSON.stringify({ info, y: Array.from(y) }));`;
      // No build/ at all: the install script was skipped (or found no python3).
      const skipped = JSON.parse(runWithEnv({}, code).stdout);
      expect(skipped.info.backend).toBe('js');
      expect(skipped.info.fallbackReason).toMatch(/was not built .*install script did not run.*--ignore-scripts.*allowScripts.*npm install-scripts approve normkit.*python3.*C\+\+17 compiler.*npm rebuild normkit/s);
      expect(skipped.y[0]).toBeCloseTo(3 / Math.sqrt(12.5), 6);

      // build/ configured, but no addon in it: the compile failed.
      fs.mkdirSync(path.join(dir, 'build', 'Release'), { recursive: true });
      const failed = JSON.parse(runWithEnv({}, code).stdout);
      expect(failed.info.backend).toBe('js');
      expect(failed.info.fallbackReason).toMatch(/was not built .*compiling it failed.*make and a C\+\+17 compiler.*npm rebuild normkit/s);
      expect(failed.info.fallbackReason).not.toMatch(/allowScripts/);

      fs.writeFileSync(path.join(dir, 'build', 'Release', 'normkit.node'), 'not a shared object');
      const broken = JSON.parse(runWithEnv({}, code).stdout);
      expect(broken.info.backend).toBe('js');
      expect(broken.info.fallbackReason).toMatch(/failed to load: .*another Node.js version or platform.*npm rebuild normkit/s);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('setIsa rejects instruction sets this CPU cannot run; setBackend rejects unknown names', () => {
    if (!nk.backendInfo().nativeAvailable) return;
    expect(() => nk.setIsa('sse9')).toThrow(/unknown instruction set/);
    expect(() => nk.setBackend('gpu' as never)).toThrow(TypeError);
    nk.setBackend('native');
    expect(nk.setIsa('auto')).toBe(nk.backendInfo().supportedIsas[0]);
  });

  it('the baseline objects contain no AVX instruction, so the addon loads on any x86-64 CPU', () => {
    if (process.arch !== 'x64' || !nk.backendInfo().nativeAvailable) return;
    const objDir = path.join(root, 'build', 'Release', 'obj.target', 'normkit', 'native');
    const objects = ['core/dispatch.o', 'isa/scalar.o', 'binding/addon.o'].map((f) => path.join(objDir, f));
    for (const o of objects) {
      expect(fs.existsSync(o), o).toBe(true);
      const asm = execFileSync('objdump', ['-d', '--no-show-raw-insn', o], { encoding: 'utf8', maxBuffer: 1 << 28 });
      expect(asm.length).toBeGreaterThan(1000);
      expect(asm.match(/%[yz]mm\d+/g) ?? [], o).toEqual([]);
    }
  });
});
