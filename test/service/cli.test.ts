import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * `dermstream config` and `doctor` as processes: exit codes and what reaches stderr/stdout. Uses the built
 * CLI (bin/dermstream.js → dist) once the lead has registered the commands there and `npm run build` ran;
 * until then a stand-in entry with the same register functions, run through tsx.
 */
const root = path.resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(path.join(tmpdir(), 'dermstream-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const help = spawnSync(process.execPath, [path.join(root, 'bin/dermstream.js'), '--help'], { encoding: 'utf8', cwd: root });
const builtHasConfig = help.status === 0 && /^\s+config\b/m.test(help.stdout) && /^\s+doctor\b/m.test(help.stdout);
const entry = builtHasConfig ? [path.join(root, 'bin/dermstream.js')] : ['--import', 'tsx', path.join(root, 'test/service/fixtures/cli_entry.ts')];
console.info(`CLI under test: ${builtHasConfig ? 'bin/dermstream.js (built)' : 'test/service/fixtures/cli_entry.ts (stand-in, via tsx)'}`);

const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DERMSTREAM_')));
function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [...entry, ...args], {
    encoding: 'utf8',
    cwd: root,
    env: { ...cleanEnv, STATE_DIRECTORY: path.join(dir, 'state'), ...env },
    timeout: 60_000,
  });
}
const file = (name: string, text: string) => {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe('dermstream config', () => {
  it('--check on a bad file: exit 78, every problem with file:line and the allowed values on stderr', () => {
    const bad = file('bad.yaml', 'sorce: test\ncapture:\n  fps: 500\nmqtt:\n  brokerUrl: mqtt://x:1883\n  liveMaxHz: 1\n');
    const r = cli(['config', '--check', '--config', bad]);
    expect(r.status).toBe(78);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/invalid configuration \(2 problems\)/);
    expect(r.stderr).toMatch(/sorce \(.*bad\.yaml:1\): unknown key; did you mean "source"\?/);
    expect(r.stderr).toMatch(/capture\.fps = 500 \(.*bad\.yaml:3\): too large: must be ≤ 240/);
    expect(r.stderr).toMatch(/allowed: frame rate to ask of the camera: a number, 1–240/);
  });

  it('--check with a YAML syntax error names the line; a missing explicit file is 78 too', () => {
    const r = cli(['config', '--check', '--config', file('syntax.yaml', 'capture:\n  fps: [30\n')]);
    expect(r.status).toBe(78);
    expect(r.stderr).toMatch(/syntax\.yaml:\d+\): YAML syntax error/);
    const missing = cli(['config', '--check', '--config', path.join(dir, 'nope.yaml')]);
    expect(missing.status).toBe(78);
    expect(missing.stderr).toMatch(/configuration file not found/);
  });

  it('an env var or a flag out of range is 78, naming the variable or flag', () => {
    const env = cli(['config', '--check'], { DERMSTREAM_HTTP__PORT: '99999' });
    expect(env.status).toBe(78);
    expect(env.stderr).toMatch(/http\.port = 99999 \(env DERMSTREAM_HTTP__PORT\)/);
    const flag = cli(['config', '--check', '--fps', '0']);
    expect(flag.status).toBe(78);
    expect(flag.stderr).toMatch(/capture\.fps = 0 \(flag --fps\): too small/);
  });

  it('--check on a good file: exit 0', () => {
    const good = file('good.yaml', 'deviceId: bed12\nsource: test\nmqtt:\n  brokerUrl: mqtt://127.0.0.1:1883\n');
    const r = cli(['config', '--check', '--config', good]);
    expect(r.stderr).toMatch(/configuration OK/);
    expect(r.status).toBe(0);
  });

  it('--print shows the effective YAML with secrets masked and, with --sources, their origins', () => {
    const pw = file('pw', 'hunter2\n');
    const cfg = file('p.yaml', `deviceId: bed12\nmqtt:\n  brokerUrl: mqtt://127.0.0.1:1883\n  username: u\n  passwordFile: ${pw}\n`);
    const r = cli(['config', '--print', '--sources', '--config', cfg, '--fps', '15'], { DERMSTREAM_MQTT__TOPIC_PREFIX: 'hosp' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).not.toContain('hunter2');
    expect(r.stdout).toMatch(/password: "\*\*\*"/);
    expect(r.stdout).toMatch(/fps: 15 # from flag --fps/);
    expect(r.stdout).toMatch(/topicPrefix: hosp # from env DERMSTREAM_MQTT__TOPIC_PREFIX/);
    expect(r.stdout).toMatch(/deviceId: bed12 # from .*p\.yaml:1/);
  });
});

describe('dermstream doctor', () => {
  it('prints OK/FAIL lines with fixes and exits non-zero on a failure', () => {
    const r = cli(['doctor', '--skip', 'backend,gstreamer', '--source', 'v4l2:/dev/video-none', '--model', dir, '--broker', 'mqtt://127.0.0.1:1', '--timeout', '1500']);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^OK {4}config/m);
    expect(r.stdout).toMatch(/^FAIL {2}camera {5}camera \/dev\/video-none does not exist/m);
    expect(r.stdout).toMatch(/^FAIL {2}model {6}no manifest\.json/m);
    expect(r.stdout).toMatch(/^FAIL {2}broker/m);
    expect(r.stdout).toMatch(/^SKIP {2}backend/m);
    expect(r.stdout).toMatch(/fix: /);
  });

  it('a bad configuration stops doctor with 78', () => {
    expect(cli(['doctor', '--log-level', 'loud']).status).toBe(78);
  });
});

describe('subcommand options named like the program\'s', () => {
  it('quantize --version records the model\'s version (not the program\'s --version, which printed and quit)', () => {
    const out = path.join(dir, 'quantized');
    const r = cli(['quantize', '--model', path.join(root, 'checkpoints/cv-mnv2/fold-1/final'), '--out', out, '--dtype', 'uint8', '--version', '9.9.9-test']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')).version).toBe('9.9.9-test');
    expect(cli(['--version']).stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
