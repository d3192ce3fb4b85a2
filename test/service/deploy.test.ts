import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const deploy = path.join(root, 'deploy/jetson');
const has = (cmd: string, args: string[] = ['--version']) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
const tmp = mkdtempSync(path.join(tmpdir(), 'dermstream-deploy-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const hasAnalyze = has('systemd-analyze');
const hasShellcheck = has('shellcheck');
if (!hasAnalyze) console.warn('SKIP systemd-analyze verify: systemd-analyze not installed (apt-get install systemd)');
if (!hasShellcheck) console.warn('SKIP shellcheck: not installed (apt-get install shellcheck)');

describe('systemd unit', () => {
  const unit = readFileSync(path.join(deploy, 'dermstream.service'), 'utf8');
  const directives = (key: string) => [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]!);

  it.skipIf(!hasAnalyze)('systemd-analyze verify reports nothing', () => {
    // verify only warns (exit 0) on unknown keys: any output is a failure. It also checks ExecStart's binary
    // exists, so verify a copy whose ExecStart points at this machine's node.
    const copy = path.join(tmp, 'dermstream.service');
    writeFileSync(copy, unit.replace(/^ExecStart=\/usr\/bin\/node /m, `ExecStart=${process.execPath} `));
    const r = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8' });
    expect(r.stderr + r.stdout).toBe('');
    expect(r.status).toBe(0);
  });

  it('has the settings the service relies on', () => {
    expect(directives('Type')).toEqual(['notify']);
    expect(directives('NotifyAccess')).toEqual(['all']); // the python3 relay sends for us
    expect(directives('WatchdogSec')).toEqual(['10']);
    expect(directives('Restart')).toEqual(['on-failure']);
    expect(directives('RestartPreventExitStatus')).toEqual(['78']);
    expect(directives('TimeoutStopSec')).toEqual(['10']);
    expect(directives('User')).toEqual(['dermstream']);
    expect(directives('SupplementaryGroups')).toEqual(['video render']);
    expect(directives('StateDirectory')).toEqual(['dermstream']);
    expect(directives('ConfigurationDirectory')).toEqual(['dermstream']);
    expect(directives('Environment')).toContain('TF_FORCE_GPU_ALLOW_GROWTH=true');
    expect(directives('ExecStart')).toEqual(['/usr/bin/node /opt/dermstream/bin/dermstream.js run --config /etc/dermstream/config.yaml']);
    for (const k of ['ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes', 'NoNewPrivileges=yes', 'DevicePolicy=closed']) expect(unit).toMatch(new RegExp(`^${k}$`, 'm'));
    expect(directives('DeviceAllow')).toEqual(expect.arrayContaining(['char-video4linux rw', '/dev/nvmap rw', '/dev/nvhost-ctrl-gpu rw']));
    // V8's JIT needs W+X memory: this must never be switched on.
    expect(unit).not.toMatch(/^MemoryDenyWriteExecute=/m);
    expect(unit).not.toMatch(/^PrivateDevices=yes/m);
  });
});

describe('install.sh', () => {
  const script = path.join(deploy, 'install.sh');

  it.skipIf(!hasShellcheck)('is shellcheck-clean', () => {
    const scripts = readdirSync(deploy).filter((f) => f.endsWith('.sh')).map((f) => path.join(deploy, f));
    const r = spawnSync('shellcheck', scripts, { encoding: 'utf8' });
    expect(r.stdout).toBe('');
    expect(r.status).toBe(0);
  });

  const tree = (dir: string): Record<string, string> => {
    const out: Record<string, string> = {};
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else out[path.relative(dir, p)] = `${(statSync(p).mode & 0o777).toString(8)} ${createHash('sha256').update(readFileSync(p)).digest('hex').slice(0, 16)}`;
      }
    };
    walk(dir);
    return out;
  };
  const install = (...args: string[]) => spawnSync('bash', [script, ...args], { encoding: 'utf8', env: { ...process.env, PATH: process.env.PATH } });

  it('--prefix lays out the files, skips system changes, and a second run changes nothing', () => {
    const prefix = path.join(tmp, 'root');
    const first = install('--prefix', prefix, '--camera-id', '0c45:6366');
    expect(first.status, first.stderr).toBe(0);
    const t1 = tree(prefix);
    expect(Object.keys(t1)).toEqual(
      expect.arrayContaining(['etc/dermstream/config.yaml', 'etc/systemd/system/dermstream.service', 'etc/udev/rules.d/99-dermatoscope.rules', 'opt/dermstream/package.json', 'opt/dermstream/bin/dermstream.js']),
    );
    expect(existsSync(path.join(prefix, 'var/lib/dermstream'))).toBe(true);
    expect(t1['etc/dermstream/config.yaml']!.startsWith('640 ')).toBe(true);
    expect(readFileSync(path.join(prefix, 'etc/systemd/system/dermstream.service'), 'utf8')).toBe(readFileSync(path.join(deploy, 'dermstream.service'), 'utf8'));
    expect(readFileSync(path.join(prefix, 'etc/udev/rules.d/99-dermatoscope.rules'), 'utf8')).toMatch(/ATTRS\{idVendor\}=="0c45", ATTRS\{idProduct\}=="6366"/);
    // Nothing outside the prefix was touched: every system step says it was skipped.
    for (const step of ['apt-get install', 'useradd', 'npm ci --omit=dev', 'systemctl daemon-reload', 'udevadm control --reload']) {
      expect(first.stdout).toMatch(new RegExp(`\\[prefix: skipped\\].*${step.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    }
    expect(first.stderr).toMatch(/no --libtensorflow given.*wasm backend/);

    const second = install('--prefix', prefix, '--camera-id', '0c45:6366');
    expect(second.status, second.stderr).toBe(0);
    expect(tree(prefix)).toEqual(t1);
    expect(second.stdout).toMatch(/config\.yaml exists: kept/);
  });

  it('never overwrites an edited configuration or udev rule', () => {
    const prefix = path.join(tmp, 'root2');
    expect(install('--prefix', prefix).status).toBe(0);
    const cfg = path.join(prefix, 'etc/dermstream/config.yaml');
    const rule = path.join(prefix, 'etc/udev/rules.d/99-dermatoscope.rules');
    writeFileSync(cfg, 'deviceId: edited\n');
    writeFileSync(rule, readFileSync(rule, 'utf8').replace('"VVVV"', '"1234"').replace('"PPPP"', '"abcd"'));
    const again = install('--prefix', prefix);
    expect(again.status, again.stderr).toBe(0);
    expect(readFileSync(cfg, 'utf8')).toBe('deviceId: edited\n');
    expect(readFileSync(rule, 'utf8')).toMatch(/"1234"/);
  });

  it('--dry-run --prefix prints the plan and creates nothing', () => {
    const prefix = path.join(tmp, 'dry');
    const r = install('--dry-run', '--prefix', prefix, '--libtensorflow', '/nonexistent/libtensorflow-gpu-linux-arm64.tar.gz');
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(path.join(prefix, 'etc'))).toBe(false);
    expect(existsSync(path.join(prefix, 'opt'))).toBe(false);
    expect(r.stdout).toMatch(/\[dry-run\] install -m 0640 .*config\.(x86|jetson)\.yaml/);
    expect(r.stdout).toMatch(/tfjs-node-gpu/);
  });

  it('rejects unknown options and malformed camera ids', () => {
    expect(install('--frobnicate').status).not.toBe(0);
    const r = install('--prefix', path.join(tmp, 'x'), '--camera-id', 'nope');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/VVVV:PPPP/);
  });
});

describe('udev rule', () => {
  it('names /dev/dermatoscope by vendor/product id, group video, mode 0660', () => {
    const rule = readFileSync(path.join(deploy, '99-dermatoscope.rules'), 'utf8');
    const line = rule.split('\n').find((l) => l.startsWith('SUBSYSTEM=='))!;
    expect(line).toMatch(/SUBSYSTEM=="video4linux"/);
    expect(line).toMatch(/ATTRS\{idVendor\}=="VVVV", ATTRS\{idProduct\}=="PPPP"/);
    expect(line).toMatch(/SYMLINK\+="dermatoscope"/);
    expect(line).toMatch(/GROUP="video", MODE="0660"/);
    expect(rule).toMatch(/udevadm info/);
  });
});
