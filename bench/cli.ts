#!/usr/bin/env node
// normkit-bench: how fast normkit's ops run here, on each backend, against the machine's memcpy and
// (--peers) the libraries a user has today. See bench/README.md for the method.
import { parseArgs, UsageError, type BenchOptions } from './args';

function fail(message: string, code: number): never {
  process.stderr.write(`normkit-bench: ${message}\n`);
  process.exit(code);
}

let options: BenchOptions;
try {
  options = parseArgs(process.argv.slice(2));
} catch (e) {
  if (e instanceof UsageError) fail(`${e.message}\n(see normkit-bench --help)`, 2);
  throw e;
}
// libuv's pool starts at the first async call and has 4 threads unless told otherwise before: --threads N
// needs N of them (set before anything below can queue work).
if (options.threads > 4 && !process.env.UV_THREADPOOL_SIZE) process.env.UV_THREADPOOL_SIZE = String(options.threads);

// The package is loaded only now, after UV_THREADPOOL_SIZE is set.
/* eslint-disable @typescript-eslint/no-require-imports */
const { main } = require('./main') as typeof import('./main');
main(options, process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e: unknown) => {
  if (e instanceof UsageError) fail(`${e.message}\n(see normkit-bench --help)`, 2);
  fail(e instanceof Error ? (e.stack ?? e.message) : String(e), 1);
});
