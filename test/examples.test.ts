// The README's examples run as written.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');

describe('examples', () => {
  it('examples/quickstart.js runs and prints what the README shows', () => {
    const out = execFileSync(process.execPath, [path.join(root, 'examples', 'quickstart.js')], { encoding: 'utf8' });
    expect(out).toMatch(/^row 0: (-?\d+\.\d{3} ){7}-?\d+\.\d{3}$/m);
    expect(out).toContain('gradBias: 4 4 4 4 4 4 4 4');
    expect(out).toContain('async equals sync: true');
    expect(out).toMatch(/backend: (native (avx512|avx2|neon|scalar)|js)/);
  });
});
