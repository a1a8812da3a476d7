// Builds the native test programs (test/native/*.cpp) from the kernels' sources as native/sources.gypi lists
// them, each instruction set's file with its own flags, as binding.gyp does for the addon.
import { execFile, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';

const root = path.resolve(__dirname, '..', '..');
const run = promisify(execFile);

/** A list variable of native/sources.gypi (the one list of native sources). */
function gypiList(name: string): string[] {
  const gypi = fs.readFileSync(path.join(root, 'native', 'sources.gypi'), 'utf8');
  const m = gypi.match(new RegExp(`'${name}':\\s*\\[([^\\]]*)\\]`));
  return m ? [...m[1].matchAll(/'([^']+)'/g)].map((q) => q[1]) : [];
}

export const onPath = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

/** A source file and the flags of its instruction set. */
export interface Source {
  file: string;
  flags: string[];
}

/** The kernels of this machine's architecture, without the Node-API binding: dispatch, scalar and each ISA. */
export function kernelSources(arch: string): Source[] {
  const baseline = gypiList('normkit_baseline_sources').filter((f) => !f.includes('/binding/'));
  const list: Source[] = baseline.map((file) => ({ file, flags: [] }));
  if (arch === 'x64')
    for (const isa of ['avx2', 'avx512'])
      for (const file of gypiList(`normkit_${isa}_sources`)) list.push({ file, flags: gypiList(`normkit_${isa}_cflags`) });
  if (arch === 'arm64') for (const file of gypiList('normkit_neon_sources')) list.push({ file, flags: [] });
  return list;
}

/** Compiles the sources (in parallel) and each program's main file, and links one executable per program. */
export async function buildPrograms(compiler: string, sources: Source[], programs: string[], flags: string[],
                                    dir: string): Promise<string[]> {
  const common = ['-std=c++17', '-fno-math-errno', `-I${path.join(root, 'native')}`, ...flags];
  const compile = (file: string, extra: string[]) => {
    const obj = path.join(dir, file.replace(/[/.]/g, '_') + '.o');
    return run(compiler, [...common, ...extra, '-c', path.join(root, file), '-o', obj]).then(() => obj);
  };
  const objects = await Promise.all(sources.map((s) => compile(s.file, s.flags)));
  return Promise.all(programs.map(async (main) => {
    const exe = path.join(dir, path.basename(main, '.cpp'));
    await run(compiler, [...common, await compile(main, []), ...objects, '-o', exe]);
    return exe;
  }));
}
