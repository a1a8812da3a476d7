// @tensorflow/tfjs (its pure-JavaScript 'cpu' backend) as a peer: the same ops written the way a tfjs user
// would, with tf.moments / tf.batchNorm, and tf.grads for backward (tfjs keeps no saved statistics, so its
// backward recomputes the forward: that is the cost a tfjs user pays).
import type { Arrays, PeerCase } from '../registry';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Tf = any;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Tensor = any;

/** Runs fn inside tf.tidy, reads the named result tensors into Float32Arrays, frees them. */
function tidyCase(tf: Tf, inputs: Tensor[], fn: () => Record<string, Tensor>): PeerCase {
  return {
    run(): Arrays {
      const tensors = tf.tidy(fn) as Record<string, Tensor>;
      const out: Arrays = {};
      for (const [name, t] of Object.entries(tensors)) {
        out[name] = t.dataSync() as Float32Array;
        t.dispose();
      }
      return out;
    },
    dispose() { for (const t of inputs) t.dispose(); },
  };
}

function layerNormOf(tf: Tf, x: Tensor, w: Tensor, b: Tensor, eps: number): Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), w), b);
}

function rmsNormOf(tf: Tf, x: Tensor, w: Tensor, eps: number): Tensor {
  const ms = tf.mean(tf.square(x), -1, true);
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), w);
}

export function tfjsLayerNorm(tf: Tf, x: Float32Array, dims: readonly number[], weight: Float32Array, bias: Float32Array, eps: number): PeerCase {
  const tx = tf.tensor(x, dims), tw = tf.tensor1d(weight), tb = tf.tensor1d(bias);
  return tidyCase(tf, [tx, tw, tb], () => ({ output: layerNormOf(tf, tx, tw, tb, eps) }));
}

export function tfjsLayerNormBackward(tf: Tf, dy: Float32Array, x: Float32Array, dims: readonly number[], weight: Float32Array, bias: Float32Array, eps: number): PeerCase {
  const tdy = tf.tensor(dy, dims), tx = tf.tensor(x, dims), tw = tf.tensor1d(weight), tb = tf.tensor1d(bias);
  const grads = tf.grads((a: Tensor, w: Tensor, b: Tensor) => layerNormOf(tf, a, w, b, eps));
  return tidyCase(tf, [tdy, tx, tw, tb], () => {
    const [gx, gw, gb] = grads([tx, tw, tb], tdy);
    return { gradInput: gx, gradWeight: gw, gradBias: gb };
  });
}

export function tfjsRmsNorm(tf: Tf, x: Float32Array, dims: readonly number[], weight: Float32Array, eps: number): PeerCase {
  const tx = tf.tensor(x, dims), tw = tf.tensor1d(weight);
  return tidyCase(tf, [tx, tw], () => ({ output: rmsNormOf(tf, tx, tw, eps) }));
}

export function tfjsRmsNormBackward(tf: Tf, dy: Float32Array, x: Float32Array, dims: readonly number[], weight: Float32Array, eps: number): PeerCase {
  const tdy = tf.tensor(dy, dims), tx = tf.tensor(x, dims), tw = tf.tensor1d(weight);
  const grads = tf.grads((a: Tensor, w: Tensor) => rmsNormOf(tf, a, w, eps));
  return tidyCase(tf, [tdy, tx, tw], () => {
    const [gx, gw] = grads([tx, tw], tdy);
    return { gradInput: gx, gradWeight: gw };
  });
}

/**
 * Batch normalization over the channel axis of NCHW (or NHWC when channelsLast) input; training mode uses
 * the batch statistics (tf.moments over every axis but the channels), inference mode the running ones.
 */
export function tfjsBatchNorm(tf: Tf, x: Float32Array, dims: readonly number[], channelsLast: boolean, weight: Float32Array,
  bias: Float32Array, eps: number, running: { mean: Float32Array; var: Float32Array } | null): PeerCase {
  const lastAxis = channelsLast || dims.length === 2;
  const c = lastAxis ? dims[dims.length - 1] : dims[1];
  // tf.batchNorm's cpu kernel broadcasts the statistics along the last axis only: channels-first data gets the
  // same formula from broadcasting ops, with statistics shaped [1, C, 1, ...].
  const statShape = lastAxis ? [c] : [1, c, ...dims.slice(2).map(() => 1)];
  const tx = tf.tensor(x, dims), tw = tf.tensor(weight, statShape), tb = tf.tensor(bias, statShape);
  const rm = running ? tf.tensor(running.mean, statShape) : null, rv = running ? tf.tensor(running.var, statShape) : null;
  const axes = dims.map((_, i) => i).filter((i) => i !== (lastAxis ? dims.length - 1 : 1));
  return tidyCase(tf, [tx, tw, tb, ...(rm ? [rm, rv] : [])], () => {
    const { mean, variance } = rm ? { mean: rm, variance: rv! } : tf.moments(tx, axes, !lastAxis);
    if (lastAxis) return { output: tf.batchNorm(tx, mean, variance, tb, tw, eps) };
    return { output: tx.sub(mean).mul(tf.rsqrt(variance.add(eps))).mul(tw).add(tb) };
  });
}
