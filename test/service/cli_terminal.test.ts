import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../publish/helpers/mosquitto.js';

/** The operator's terminal (issue 10): --version, --help with defaults and env names, what a demo run prints. */
const root = path.resolve(import.meta.dirname, '../..');
const bin = path.join(root, 'bin/dermstream.js');
const dir = mkdtempSync(path.join(tmpdir(), 'dermstream-term-'));
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DERMSTREAM_')));
const cli = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: dir, env: { ...cleanEnv, STATE_DIRECTORY: path.join(dir, 'state') }, timeout: 60_000 });

beforeAll(() => execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'ignore' }), 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('dermstream on a terminal', () => {
  it('--version prints the package version', () => {
    const r = cli(['--version']);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe((JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version);
  });

  it('run --help shows each flag with its default and its environment variable', () => {
    const r = cli(['run', '--help']);
    expect(r.status).toBe(0);
    const help = r.stdout.replace(/\s+/g, ' ');
    expect(help).toContain('--backend <name> auto | tensorflow | wasm | cpu (default: auto; env DERMSTREAM_MODEL__BACKEND)');
    expect(help).toContain('--http-port <port> health/metrics port (default: 9464; env DERMSTREAM_HTTP__PORT)');
    expect(help).toMatch(/--fps <n> frame rate to ask of the camera \(env DERMSTREAM_CAPTURE__FPS\)/);
  });

  it('a piped demo run: JSON lines only, no backend fallback above debug, no warning about its own broker, the display URL once', async () => {
    const [tcp, ws, display] = [await freePort(), await freePort(), await freePort()];
    const r = cli(['run', '--source', 'test', '--set', 'run.maxFrames=20', '--set', 'http.enabled=false', '--set', `mqtt.embedded.port=${tcp}`, '--set', `mqtt.embedded.wsPort=${ws}`, '--set', `display.port=${display}`]);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    const logs = lines.map((l) => JSON.parse(l) as { level: number; msg: string });
    expect(logs.length).toBeGreaterThan(3);
    expect(logs.filter((l) => l.level >= 30 && /Cannot find package/.test(JSON.stringify(l)))).toEqual([]);
    expect(logs.filter((l) => l.level >= 40).map((l) => l.msg)).toEqual([]);
    expect(lines.filter((l) => l.includes(`http://127.0.0.1:${display}/`))).toHaveLength(1);
  }, 60_000);
});
