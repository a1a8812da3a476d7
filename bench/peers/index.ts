// Loading the peer libraries. They are not dependencies of normkit: they are looked up from the current
// directory (the user's project) first, then from normkit's own location, and skipped with the reason when
// missing or broken.
import type { PeerName } from '../args';

export interface LoadedPeer {
  name: PeerName;
  /** What the report calls it, e.g. 'tfjs-cpu 4.22.0'. */
  label: string;
  version: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  lib: any;
}

export interface MissingPeer {
  name: PeerName;
  reason: string;
}

const PACKAGE: Record<PeerName, string> = { tfjs: '@tensorflow/tfjs', onnxruntime: 'onnxruntime-node' };

function requireFrom(pkg: string): unknown {
  const file = require.resolve(pkg, { paths: [process.cwd(), __dirname] });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(file);
}

/** Runs fn with console output muted: tfjs greets Node users on the console, which would spoil --json. */
async function quietly<T>(fn: () => Promise<T>): Promise<T> {
  const saved = { log: console.log, warn: console.warn, info: console.info };
  console.log = console.warn = console.info = () => {};
  try {
    return await fn();
  } finally {
    Object.assign(console, saved);
  }
}

async function load(name: PeerName): Promise<LoadedPeer> {
  if (name === 'tfjs') {
    return quietly(async () => {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const tf = requireFrom(PACKAGE.tfjs) as any;
      await tf.setBackend('cpu');
      await tf.ready();
      // The greeting is printed by the first op: run one while muted.
      tf.tidy(() => tf.add(tf.scalar(1), tf.scalar(1)).dataSync());
      const version = String(tf.version?.tfjs ?? tf.version_core ?? '?');
      return { name, label: 'tfjs-cpu', version, lib: tf };
    });
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const ort = requireFrom(PACKAGE.onnxruntime) as any;
  ort.env.logLevel = 'error';
  const version = String(ort.env?.versions?.node ?? ort.env?.versions?.common ?? '?');
  return { name, label: 'onnxruntime', version, lib: ort };
}

export async function loadPeers(names: readonly PeerName[]): Promise<{ loaded: LoadedPeer[]; missing: MissingPeer[] }> {
  const loaded: LoadedPeer[] = [], missing: MissingPeer[] = [];
  for (const name of names) {
    try {
      loaded.push(await load(name));
    } catch (e) {
      const message = e instanceof Error ? e.message.split('\n')[0] : String(e);
      const notInstalled = (e as { code?: string }).code === 'MODULE_NOT_FOUND' && message.includes(PACKAGE[name]);
      missing.push({
        name,
        reason: notInstalled
          ? `${PACKAGE[name]} is not installed (npm install --no-save ${PACKAGE[name]})`
          : `${PACKAGE[name]} failed to load: ${message}`,
      });
    }
  }
  return { loaded, missing };
}
