import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAVE_ISIC, ISIC_DIR, SKIP_ISIC_MESSAGE, TINY_CONFIG } from './helpers.js';

/**
 * Issue 10 (terminal): `dermstream train` interrupted with Ctrl-C (SIGINT) saves a checkpoint, says how to
 * resume, exits 130; resuming finishes the run with a history whose loss entries are filled in. The built
 * CLI, a tiny network, 12 ISIC images.
 */
if (!HAVE_ISIC) console.warn(SKIP_ISIC_MESSAGE);
const root = path.resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(path.join(tmpdir(), 'dermstream-train-int-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function train(args: string[], interruptAfter?: RegExp): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(root, 'bin/dermstream.js'), 'train', ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let sent = false;
    const onData = (d: Buffer) => {
      out += d.toString();
      if (interruptAfter && !sent && interruptAfter.test(out)) {
        sent = true;
        child.kill('SIGINT');
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (status) => resolve({ status, out }));
  });
}

describe.skipIf(!HAVE_ISIC)('train: Ctrl-C saves a checkpoint and says how to resume', () => {
  beforeAll(() => execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'ignore' }), 120_000);

  it('SIGINT mid-epoch → checkpoint, the resume command, exit 130; --resume completes with a filled loss history', async () => {
    const cfg = path.join(dir, 'tiny.json');
    writeFileSync(cfg, JSON.stringify(TINY_CONFIG));
    const out = path.join(dir, 'run');
    const args = ['--data', ISIC_DIR, '--config', cfg, '--out', out, '--epochs', '2', '--limit', '16', '--val', '4', '--batch', '2', '--backend', 'wasm'];
    // Interrupt once training steps run (the first log line after the data is loaded).
    const first = await train(args, /model tiny-test: /);
    expect(first.out).toMatch(/SIGINT: saving a checkpoint after the current step/);
    expect(first.out).toMatch(new RegExp(`checkpoint saved in ${out.replace(/[/.]/g, '\\$&')}/checkpoint; resume with: dermstream train .* --resume`));
    expect(first.status).toBe(130);
    expect(existsSync(path.join(out, 'checkpoint'))).toBe(true);

    const second = await train([...args, '--resume']);
    expect(second.status, second.out).toBe(0);
    const history = JSON.parse(readFileSync(path.join(out, 'history.json'), 'utf8')) as Array<{ loss: Record<string, number> }>;
    expect(history.length).toBeGreaterThan(0);
    expect(history.every((h) => Object.keys(h.loss).length > 0)).toBe(true);
    expect(existsSync(path.join(out, 'report.png'))).toBe(true);
    // The finished run's manifest counts the epochs it did, across the interruption: 2 of 2.
    const training = JSON.parse(readFileSync(path.join(out, 'final', 'manifest.json'), 'utf8')).training;
    expect(training).toMatchObject({ epochs: 2, epochsDone: 2 });
  }, 300_000);
});
