// Which backend runs the ops: the native addon (SIMD kernels, one per instruction set, chosen at load) or the
// TypeScript kernels in src/js/. Loading never throws because the addon is missing or broken: the package
// then runs on TypeScript and backendInfo() says why, in words a user can act on.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { jsKernels } from './js';
import type { AsyncKernels, KernelName, Kernels } from './kernels';

export type BackendName = 'native' | 'js';

interface AddonInfo {
  isa: string;
  supported: string[];
  compiled: string[];
  cpuFeatures: string[];
}

/** What the compiled addon exports (native/binding/addon.cpp). */
export interface Addon extends Kernels, AsyncKernels {
  info(): AddonInfo;
  setIsa(isa: string): string;
  copy(length: number, src: Float32Array, dst: Float32Array): void;
}

export interface BackendInfo {
  /** The backend the ops run on now. */
  backend: BackendName;
  /** Whether the native addon loaded (it may be loaded but switched off with setBackend('js')). */
  nativeAvailable: boolean;
  /** The instruction set the native kernels use ('avx512', 'avx2', 'neon', 'scalar'), or null. */
  isa: string | null;
  /** Instruction sets this CPU can run, best first (native only). */
  supportedIsas: string[];
  /** Instruction sets compiled into the addon (native only). */
  compiledIsas: string[];
  /** CPU features the addon detected (native only). */
  cpuFeatures: string[];
  /** Why the native addon is not in use, or null when it is. */
  fallbackReason: string | null;
  /** Where the addon was loaded from, or null. */
  addonPath: string | null;
  nodeVersion: string;
  packageVersion: string;
}

const packageRoot = findPackageRoot(__dirname);
const packageVersion: string = JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')).version;

function findPackageRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'binding.gyp'))) return dir;
    if (path.dirname(dir) === dir) return start;
  }
}

interface LoadResult {
  addon: Addon | null;
  path: string | null;
  reason: string | null;
}

function loadAddon(): LoadResult {
  if (process.env.NORMKIT_BACKEND === 'js')
    return { addon: null, path: null, reason: 'NORMKIT_BACKEND=js asked for the TypeScript backend' };
  const file = path.join(packageRoot, 'build', 'Release', 'normkit.node');
  if (!fs.existsSync(file)) {
    // node-gyp writes build/ once it has found python3 and configured; without build/ the install script
    // either never ran (npm skipped it) or stopped before that, so "install a compiler" would mislead.
    const configured = fs.existsSync(path.join(packageRoot, 'build'));
    return {
      addon: null, path: null,
      reason: configured
        ? `the native addon was not built (no ${file}): compiling it failed when the package was installed. ` +
          'That needs make and a C++17 compiler (g++ or clang++). Install them, then run ' +
          '`npm rebuild normkit` and check its output for errors.'
        : `the native addon was not built (no ${file}): the package's install script did not run, or stopped ` +
          'before configuring the build. npm skips install scripts with --ignore-scripts, and npm 11 when the ' +
          'project\'s package.json denies normkit in "allowScripts" (`npm install-scripts approve normkit` ' +
          'allows it); node-gyp stops there when python3 is missing. Building also needs make and a C++17 ' +
          'compiler (g++ or clang++). Then run `npm rebuild normkit` and check its output for errors.',
    };
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const addon = require(file) as Addon;
    return { addon, path: file, reason: null };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (message.startsWith('NORMKIT_ISA=')) {
      // An explicit request that cannot be honoured is an error, not a reason to fall back quietly.
      throw new Error(`normkit: ${message}. Unset NORMKIT_ISA or choose a supported instruction set.`);
    }
    return {
      addon: null, path: file,
      reason: `the native addon at ${file} failed to load: ${message}. It may have been built for another ` +
        `Node.js version or platform (this is Node ${process.version}, ${process.platform}-${process.arch}); ` +
        'run `npm rebuild normkit` to rebuild it.',
    };
  }
}

const loaded = loadAddon();
let active: BackendName = loaded.addon ? 'native' : 'js';

/** The loaded addon, or null. */
export function nativeAddon(): Addon | null {
  return loaded.addon;
}

/** True when the active backend is the native addon, whose binding checks lengths and overlap itself. */
export function nativeChecksArguments(): boolean {
  return active === 'native';
}

/** The kernels of the active backend. */
export function activeKernels(): Kernels {
  return active === 'native' ? (loaded.addon as Addon) : jsKernels;
}

/** Runs one kernel on the active backend. */
export function runKernel<K extends KernelName>(name: K, args: Parameters<Kernels[K]>): void {
  (activeKernels()[name] as (...a: unknown[]) => void)(...args);
}

/**
 * Runs one kernel off the main thread (native: a libuv worker thread). The TypeScript backend has no
 * threads of its own: it runs the kernel on the calling thread, then resolves.
 */
export async function runKernelAsync<K extends KernelName>(name: K, args: Parameters<Kernels[K]>): Promise<void> {
  if (active === 'native') {
    const fn = (loaded.addon as Addon)[`${name}Async` as keyof AsyncKernels] as (...a: unknown[]) => Promise<void>;
    return fn(...args);
  }
  runKernel(name, args);
}

/** What an op's prepare step hands over: the kernel's arguments (null when there is nothing to compute) and
 * the result the op returns. */
export interface Prepared<K extends KernelName, R> {
  args: Parameters<Kernels[K]> | null;
  result: R;
}

/**
 * An op's two public forms from its prepare step (validate, allocate outputs, build the kernel's arguments):
 * `sync` runs the kernel on the calling thread, `async` on a worker thread (see runKernelAsync). Errors name
 * the function the user called (`name` or `nameAsync`).
 */
export function syncAndAsync<K extends KernelName, A extends unknown[], R>(name: string, kernel: K,
  prepare: (fn: string, ...args: A) => Prepared<K, R>) {
  return {
    sync: (...args: A): R => {
      const p = prepare(name, ...args);
      if (p.args) runKernel(kernel, p.args);
      return p.result;
    },
    async: async (...args: A): Promise<R> => {
      const p = prepare(`${name}Async`, ...args);
      if (p.args) await runKernelAsync(kernel, p.args);
      return p.result;
    },
  };
}

/** Switches the backend for all later calls. 'native' throws if the addon is not available, with the reason. */
export function setBackend(name: BackendName): void {
  if (name !== 'native' && name !== 'js')
    throw new TypeError(`normkit.setBackend: 'name' must be 'native' or 'js', got ${String(name)}`);
  if (name === 'native' && !loaded.addon)
    throw new Error(`normkit.setBackend: the native backend is not available: ${loaded.reason}`);
  active = name;
}

/**
 * Forces one instruction set for the native kernels ('avx512', 'avx2', 'neon', 'scalar'), or the best this
 * CPU supports with 'auto'. Throws if the addon is not loaded or the CPU cannot run it. Process-wide.
 */
export function setIsa(isa: string): string {
  if (typeof isa !== 'string') throw new TypeError(`normkit.setIsa: 'isa' must be a string, got ${typeof isa}`);
  if (!loaded.addon) throw new Error(`normkit.setIsa: the native backend is not available: ${loaded.reason}`);
  return loaded.addon.setIsa(isa === 'auto' ? '' : isa);
}

export function backendInfo(): BackendInfo {
  const info = loaded.addon?.info();
  return {
    backend: active,
    nativeAvailable: loaded.addon !== null,
    isa: info && active === 'native' ? info.isa : null,
    supportedIsas: info?.supported ?? [],
    compiledIsas: info?.compiled ?? [],
    cpuFeatures: info?.cpuFeatures ?? [],
    fallbackReason: active === 'native' ? null : loaded.reason ?? 'setBackend(\'js\') chose the TypeScript backend',
    addonPath: loaded.path,
    nodeVersion: process.version,
    packageVersion,
  };
}
