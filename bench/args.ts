// The command line of normkit-bench: parsed into BenchOptions, or a UsageError that says what was wrong.
import { parseShapeList, type ParsedShape } from './shapes';

export type Mode = 'quick' | 'default' | 'full';
export const PEER_NAMES = ['tfjs', 'onnxruntime'] as const;
export type PeerName = (typeof PEER_NAMES)[number];

export interface BenchOptions {
  mode: Mode;
  /** Op selectors (exact names, or prefixes ending in '*'), or null for every registered op. */
  ops: string[] | null;
  /** Shapes replacing each op's own list, or null. */
  shapes: ParsedShape[] | null;
  /** Backend selectors ('js', 'native', 'native:avx2', 'avx2'), or null for all. */
  backends: string[] | null;
  /** Peer libraries to add: [] for none. */
  peers: PeerName[];
  /** Concurrent async calls over row slices (1: single-threaded only). */
  threads: number;
  json: boolean;
  markdown: boolean;
  /** Path of the .svg or .html chart to write, or null. */
  chart: string | null;
  /** Override of the per-case sample budget in milliseconds. */
  budgetMs: number | null;
  seed: number;
  /** Progress bar on stderr: null = when stderr is a terminal. */
  progress: boolean | null;
  info: boolean;
  list: boolean;
  help: boolean;
}

export class UsageError extends Error {}

export const HELP = `normkit-bench: time normkit's ops on every backend this machine has, against its memcpy speed

Usage: normkit-bench [options]
       npm run bench -- [options]

  --quick               fewer shapes, short budgets (well under a minute)
  --full                every shape of every op, long budgets
  --ops LIST            ops to run, comma-separated: names (layerNorm, rmsNormBackward) or prefixes
                        ending in * (layerNorm*); --list shows them
  --shapes LIST         shapes instead of each op's own, e.g. 4096x768,nchw:32x64x56x56,nhwc:8x28x28x256
                        (rows layout: the last dim is normalized; /g32 sets a group count)
  --backends LIST       js, native (every instruction set this CPU runs), native:ISA or ISA (avx512, avx2, neon, scalar)
  --peers[=LIST]        also time installed peers: tfjs (@tensorflow/tfjs, cpu backend) and onnxruntime
                        (onnxruntime-node); all of them without a list
  --threads N           also time N concurrent async calls over row slices (ops whose rows are independent)
  --budget MS           time budget of each measurement, overriding the mode's
  --seed N              seed of the random inputs (default 1)
  --json                machine-readable results on stdout (schema normkit-bench/1, see bench/README.md)
  --markdown            results as a Markdown table
  --chart FILE          draw the results as FILE.svg or FILE.html
  --no-progress         no progress bar (it is shown on stderr only when stderr is a terminal)
  --info                backend, instruction set, CPU features, versions; then exit
  --list                registered ops and their shapes; then exit
  -h, --help            this text
`;

function positiveInt(flag: string, value: string, max: number): number {
  if (!/^[0-9]+$/.test(value) || Number(value) < 1 || Number(value) > max)
    throw new UsageError(`${flag} must be an integer from 1 to ${max}, got '${value}'`);
  return Number(value);
}

function list(flag: string, value: string): string[] {
  const items = value.split(/[\s,]+/).filter(Boolean);
  if (items.length === 0) throw new UsageError(`${flag} needs a comma-separated list`);
  return items;
}

export function parseArgs(argv: readonly string[]): BenchOptions {
  const o: BenchOptions = {
    mode: 'default', ops: null, shapes: null, backends: null, peers: [], threads: 1, json: false, markdown: false,
    chart: null, budgetMs: null, seed: 1, progress: null, info: false, list: false, help: false,
  };
  let quick = false, full = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq >= 0 ? arg.slice(0, eq) : arg;
    const inline = eq >= 0 ? arg.slice(eq + 1) : undefined;
    const value = (): string => {
      if (inline !== undefined) return inline;
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('-') && next.length > 1))
        throw new UsageError(`${flag} needs a value`);
      i++;
      return next;
    };
    const noValue = () => {
      if (inline !== undefined) throw new UsageError(`${flag} takes no value`);
    };
    switch (flag) {
      case '--quick': noValue(); quick = true; break;
      case '--full': noValue(); full = true; break;
      case '--ops': o.ops = list(flag, value()); break;
      case '--shapes':
        try { o.shapes = parseShapeList(value()); } catch (e) { throw new UsageError((e as Error).message); }
        break;
      case '--backends': o.backends = list(flag, value()); break;
      case '--peers': {
        // Optional value: only with '=' (a following word would be ambiguous with positional mistakes).
        const names = inline === undefined ? [...PEER_NAMES] : list(flag, inline);
        for (const n of names) {
          if (!(PEER_NAMES as readonly string[]).includes(n))
            throw new UsageError(`--peers: unknown peer '${n}' (known: ${PEER_NAMES.join(', ')})`);
        }
        o.peers = [...new Set(names)] as PeerName[];
        break;
      }
      case '--threads': o.threads = positiveInt(flag, value(), 1024); break;
      case '--budget': o.budgetMs = positiveInt(flag, value(), 600_000); break;
      case '--seed': o.seed = positiveInt(flag, value(), 2 ** 31); break;
      case '--json': noValue(); o.json = true; break;
      case '--markdown': noValue(); o.markdown = true; break;
      case '--chart': {
        const file = value();
        if (!/\.(svg|html?)$/i.test(file)) throw new UsageError(`--chart: the file must end in .svg or .html, got '${file}'`);
        o.chart = file;
        break;
      }
      case '--progress': noValue(); o.progress = true; break;
      case '--no-progress': noValue(); o.progress = false; break;
      case '--info': noValue(); o.info = true; break;
      case '--list': noValue(); o.list = true; break;
      case '-h': case '--help': noValue(); o.help = true; break;
      default:
        throw new UsageError(arg.startsWith('-') ? `unknown option '${flag}'` : `unexpected argument '${arg}'`);
    }
  }
  if (quick && full) throw new UsageError('--quick and --full exclude each other');
  if (o.json && o.markdown) throw new UsageError('--json and --markdown exclude each other');
  o.mode = quick ? 'quick' : full ? 'full' : 'default';
  return o;
}
