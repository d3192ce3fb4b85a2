import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'open_close_exit.ts');

describe('teardown', () => {
  it('after many open/close cycles nothing is left running: the process exits by itself', async () => {
    const cycles = 100;
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, String(cycles)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    let printedAt = 0;
    child.stdout.once('data', () => (printedAt = performance.now()));
    const code = await new Promise<number | string>((resolve) => {
      const killer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve('did not exit within 9 s: something (a pipeline, a pool thread, a timer) was left running');
      }, 9000);
      child.on('exit', (c) => {
        clearTimeout(killer);
        resolve(c ?? -1);
      });
    });
    expect(code, err).toBe(0);
    const report = JSON.parse(out) as { frames: number; live: number; rssPerCycleKb: number };
    expect(report).toMatchObject({ frames: (2 * cycles + 10) * 2, live: 0 });
    // Re-played pipelines: ~20 kB per re-open measured on a quiet machine, against ~2000 kB when each re-open built a
    // new one. RSS sampling under CPU load read up to 598 kB (a CI run with other work on the machine), so the bound sits
    // halfway to the leak it guards against.
    expect(report.rssPerCycleKb).toBeLessThan(1000);
    // Exits promptly once its work is done. (The bus-flush race fixed in gst_source.ts left processes
    // hanging for 15–80 s, but only under CPU load: this test does not reliably reproduce it on a quiet
    // machine. It does catch any pipeline, pull, bus poll or timer left behind.)
    expect(performance.now() - printedAt).toBeLessThan(1500);
  });
});
