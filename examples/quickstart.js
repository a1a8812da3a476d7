// The README's quick start, runnable: `node examples/quickstart.js` after `npm install`.
const nk = require('normkit');

// A batch of 4 token rows of width 8, LayerNorm over the last dim with a learned scale and shift.
const x = Float32Array.from({ length: 32 }, (_, i) => Math.sin(i) * 10 + 1000);
const weight = new Float32Array(8).fill(1.5);
const bias = new Float32Array(8).fill(0.25);
const { output, mean, rstd } = nk.layerNorm(x, [4, 8], [8], { weight, bias, eps: 1e-5 });
console.log('row 0:', Array.from(output.subarray(0, 8), (v) => v.toFixed(3)).join(' '));

// Backward from the saved statistics: gradients for input, weight and bias.
const gradOutput = new Float32Array(32).fill(1);
const grads = nk.layerNormBackward(gradOutput, x, [4, 8], [8], { mean, rstd, weight });
console.log('gradBias:', Array.from(grads.gradBias).join(' '));

// RMSNorm with reusable output buffers: no allocation per call.
const out = { output: new Float32Array(32), rstd: new Float32Array(4) };
nk.rmsNorm(x, [4, 8], 8, { weight, eps: 1e-6, out });

// The same op off the main thread.
nk.layerNormAsync(x, [4, 8], [8], { weight, bias }).then((r) => {
  console.log('async equals sync:', r.output.every((v, i) => v === output[i]));
  console.log('backend:', nk.backendInfo().backend, nk.backendInfo().isa ?? `(${nk.backendInfo().fallbackReason})`);
});
