// The large outputs the package allocates itself, when the caller passes no `out` buffer: an op's output or
// gradInput, as long as its input. `new Float32Array(n)` zero-fills them, and then the op overwrites every
// element: for outputs glibc serves from its heap (under 32 MiB) the clearing cost about as much as the op.
// Large ones are therefore allocated without it (Buffer.allocUnsafeSlow). That is safe because every op
// writes every element of these outputs on every backend, whatever the path; test/outputs.test.ts checks it
// against caller buffers filled with NaN, so no old memory can show through.
// Measured in the benchmark CLI (allocating column, three runs each, before -> after): LayerNorm forward
// 4096x768 1.26-1.33 -> 0.60-0.79 ms, 512x4096 0.73-0.82 -> 0.47-0.55 ms; RMSNorm 512x4096 0.60-0.80 ->
// 0.36-0.38 ms; LayerNorm backward 4096x768 2.0-2.3 -> 1.3-1.4 ms, 64x65536 3.2 -> 2.5-3.0 ms. Outputs of
// 32 MiB and more come as fresh pages from the OS on every call whichever way they are allocated (their page
// faults cost 8x the op at 8192x1024); only caller-provided, reused buffers avoid that.
import { Buffer, constants } from 'node:buffer';

/** Outputs from this size are allocated without zero-filling. */
const UNINITIALISED_MIN_BYTES = 1 << 20;

/**
 * A new Float32Array of `length` that the op will overwrite entirely; its contents before that are
 * unspecified (zeros, or old memory when large). Only for outputs every backend writes in full.
 */
export function dataOutput(length: number): Float32Array {
  const bytes = length * Float32Array.BYTES_PER_ELEMENT;
  if (bytes < UNINITIALISED_MIN_BYTES || bytes > constants.MAX_LENGTH) return new Float32Array(length);
  const buffer = Buffer.allocUnsafeSlow(bytes);
  return new Float32Array(buffer.buffer, buffer.byteOffset, length);
}
