/** `dermstream compare` as a process: eval reports in, the paired table and its JSON out, a clear refusal otherwise. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(path.join(tmpdir(), 'dermstream-compare-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'src/service/cli.ts'), ...args], { encoding: 'utf8', cwd: root, timeout: 60_000 });

function report(file: string, ids: string[], ja: (i: number) => number, malignant: (i: number) => number): string {
  const labels = ids.map((_, i) => (i % 4 === 0 ? 1 : 0));
  writeFileSync(file, JSON.stringify({ n: ids.length, perImage: { ids, labels, JA: ids.map((_, i) => ja(i)), malignant: ids.map((_, i) => malignant(i)) } }));
  return file;
}

describe('dermstream compare', () => {
  it('pairs fold reports by id and writes the comparison', () => {
    const f1 = Array.from({ length: 40 }, (_, i) => `f1-${i}`);
    const f2 = Array.from({ length: 40 }, (_, i) => `f2-${i}`);
    const a = [report(path.join(dir, 'a1.json'), f1.slice(0, 20), () => 0.7, (i) => (i * 7) % 10 / 10), report(path.join(dir, 'a2.json'), f2, () => 0.7, (i) => (i * 3) % 10 / 10)];
    const b = [report(path.join(dir, 'b1.json'), f1, () => 0.8, (i) => (i % 4 === 0 ? 0.9 : 0.1)), report(path.join(dir, 'b2.json'), f2, () => 0.8, (i) => (i % 4 === 0 ? 0.9 : 0.1))];
    const out = path.join(dir, 'cmp.json');
    const r = cli(['compare', '--a', a.join(','), '--b', b.join(','), '--name-a', 'old', '--name-b', 'new', '--resamples', '200', '--json', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('paired on 60 images (15 melanomas) in 2 strata');
    expect(r.stdout).toContain('left out: 0 images scored by A only, 20 by B only');
    const c = JSON.parse(readFileSync(out, 'utf8'));
    expect(c.delta.JA.value).toBeCloseTo(0.1, 9);
    expect(c.b.AUC).toBe(1);
    expect(c.models).toEqual({ a: { name: 'old', reports: a }, b: { name: 'new', reports: b } });
  });

  it('refuses a file that is not an eval report, naming it', () => {
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, '{"JA": 0.8}');
    const r = cli(['compare', '--a', bad, '--b', bad]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`${bad} is not an eval report`);
  });
});
