// The peers: the hand-written ONNX encoder (decoded back here with an independent wire-format reader), and
// the peers themselves, which run when installed (they are not dependencies) and are reported missing when not.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

import { describe, expect, it } from 'vitest';

import { encodeModel, Message } from '../dist/bench/peers/onnx.js';

type Field = { field: number; wire: number; value: number | Uint8Array };

/** Protobuf wire format: the fields of one message, in order. */
function fields(buf: Uint8Array): Field[] {
  const out: Field[] = [];
  let i = 0;
  const varint = () => { let v = 0, mul = 1, b; do { b = buf[i++]; v += (b & 0x7f) * mul; mul *= 128; } while (b & 0x80); return v; };
  while (i < buf.length) {
    const key = varint(), field = Math.floor(key / 8), wire = key % 8;
    if (wire === 0) out.push({ field, wire, value: varint() });
    else if (wire === 2) { const n = varint(); out.push({ field, wire, value: buf.subarray(i, i + n) }); i += n; }
    else if (wire === 5) { out.push({ field, wire, value: new DataView(buf.buffer, buf.byteOffset + i, 4).getFloat32(0, true) }); i += 4; }
    else throw new Error(`wire type ${wire}`);
  }
  return out;
}
const sub = (f: Field[], n: number) => f.filter((x) => x.field === n).map((x) => fields(x.value as Uint8Array));
const str = (f: Field[], n: number) => f.filter((x) => x.field === n).map((x) => Buffer.from(x.value as Uint8Array).toString('utf8'));
const int = (f: Field[], n: number) => f.find((x) => x.field === n)?.value as number;

describe('the ONNX encoder', () => {
  it('encodes varints, floats and nested messages in protobuf wire format', () => {
    expect([...new Message().int(1, 300).toUint8Array()]).toEqual([0x08, 0xac, 0x02]);
    expect([...new Message().string(2, 'hi').toUint8Array()]).toEqual([0x12, 2, 0x68, 0x69]);
    expect([...new Message().float(2, 1).toUint8Array()]).toEqual([0x15, 0, 0, 0x80, 0x3f]);
    expect([...new Message().message(7, new Message().int(1, 1)).toUint8Array()]).toEqual([0x3a, 2, 0x08, 1]);
  });

  it('writes a ModelProto with one node, its attributes, typed inputs/outputs and the opset', () => {
    const bytes = encodeModel({
      opType: 'LayerNormalization', opset: 17,
      inputs: [{ name: 'X', dims: [4096, 768] }, { name: 'Scale', dims: [768] }],
      outputs: [{ name: 'Y', dims: [4096, 768] }],
      attributes: [{ name: 'axis', int: 1 }, { name: 'epsilon', float: 1e-5 }],
    });
    const model = fields(bytes);
    expect(int(model, 1)).toBe(8); // ir_version
    const [opset] = sub(model, 8);
    expect(str(opset, 1)).toEqual(['']);
    expect(int(opset, 2)).toBe(17);
    const [graph] = sub(model, 7);
    const [node] = sub(graph, 1);
    expect(str(node, 4)).toEqual(['LayerNormalization']);
    expect(str(node, 1)).toEqual(['X', 'Scale']);
    expect(str(node, 2)).toEqual(['Y']);
    const attrs = sub(node, 5);
    expect(attrs.map((a) => str(a, 1)[0])).toEqual(['axis', 'epsilon']);
    expect(int(attrs[0], 3)).toBe(1);
    expect(int(attrs[0], 20)).toBe(2); // INT
    expect(attrs[1].find((x) => x.field === 2)!.value).toBeCloseTo(1e-5, 10);
    expect(int(attrs[1], 20)).toBe(1); // FLOAT
    const inputs = sub(graph, 11);
    expect(inputs.map((v) => str(v, 1)[0])).toEqual(['X', 'Scale']);
    const [type] = sub(inputs[0], 2);
    const [tensor] = sub(type, 1);
    expect(int(tensor, 1)).toBe(1); // FLOAT
    const dims = sub(sub(tensor, 2)[0], 1).map((d) => int(d, 1));
    expect(dims).toEqual([4096, 768]);
    expect(sub(graph, 12).map((v) => str(v, 1)[0])).toEqual(['Y']);
  });
});

const installed = (pkg: string) => { try { require.resolve(pkg, { paths: [path.resolve(__dirname, '..')] }); return true; } catch { return false; } };

describe('peers through the CLI', () => {
  it('each peer is either run and checked against the TypeScript backend, or reported as not installed', () => {
    const cli = path.resolve(__dirname, '..', 'dist', 'bench', 'cli.js');
    const r = spawnSync(process.execPath, [cli, '--json', '--peers', '--ops', 'layerNorm,rmsNorm', '--shapes', '6x32', '--budget', '2', '--backends', 'js'],
      { encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr).toBe('');
    const report = JSON.parse(r.stdout);
    for (const [peer, pkg] of [['tfjs', '@tensorflow/tfjs'], ['onnxruntime', 'onnxruntime-node']]) {
      if (installed(pkg)) {
        expect(report.backends.map((b: { id: string }) => b.id)).toContain(peer);
        for (const c of report.cases) {
          const res = c.results.find((x: { backend: string }) => x.backend === peer);
          expect(res.check.passed, `${peer} ${c.op}: ${JSON.stringify(res.check)} ${res.skipped}`).toBe(true);
          expect(res.check.compared).toContain('output');
          expect(res.alloc.samples).toBeGreaterThanOrEqual(3);
        }
      } else {
        expect(report.peersMissing).toContainEqual({ name: peer, reason: `${pkg} is not installed (npm install --no-save ${pkg})` });
      }
    }
  });
});
