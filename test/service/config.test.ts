import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { shippedOperatingPoint } from '../model/helpers.js';
import {
  addConfigFlags,
  ConfigError,
  closest,
  envNameFor,
  levenshtein,
  loadConfig,
  pathForEnv,
  printConfig,
  type ConfigProblem,
  type LoadConfigOptions,
} from '../../src/service/config/index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'dermstream-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const PEM_CERT = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
function file(text: string, name = `c${n++}.yaml`): string {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}
const secret = (text: string) => {
  const p = file(`${text}\n`, `secret${n++}`);
  chmodSync(p, 0o600);
  return p;
};

/** Loads with no ambient environment, no /etc file, a writable default state dir. */
function load(opts: LoadConfigOptions = {}) {
  return loadConfig({ env: {}, defaultConfigPath: path.join(dir, 'absent.yaml'), defaultStateDir: path.join(dir, 'state'), hostname: 'test-host', ...opts });
}

/** The ConfigError of a load that must fail. */
function fails(opts: LoadConfigOptions): ConfigError {
  try {
    load(opts);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).exitCode).toBe(78);
    return err as ConfigError;
  }
  throw new Error('configuration was accepted');
}
const problem = (e: ConfigError, key: string): ConfigProblem => {
  const p = e.problems.find((x) => x.path === key);
  if (!p) throw new Error(`no problem for ${key} in:\n${e.message}`);
  return p;
};

/** argv for a command that has addConfigFlags → its opts. */
function flags(...argv: string[]): Record<string, unknown> {
  const cmd = addConfigFlags(new Command('run').exitOverride());
  cmd.parse(argv, { from: 'user' });
  return cmd.opts();
}

describe('defaults', () => {
  it('no file, no env, no flags: the embedded defaults (demo clip, shipped model, embedded broker)', () => {
    const { config, sources, file: f } = load();
    expect(f).toBeUndefined();
    expect(config.deviceId).toBe('test-host');
    expect(config.source).toMatch(/^file:.*assets\/demo\/dermatoscope-demo\.avi$/);
    expect(config.model.path).toMatch(/models\/default$/);
    expect(config.model.backend).toBe('auto');
    expect(config.mqtt.brokerUrl).toBe('');
    expect(config.mqtt.topicPrefix).toBe('dermstream');
    expect(config.capture.stallTimeoutMs).toBe(2000);
    expect(config.http).toEqual({ enabled: true, host: '127.0.0.1', port: 9464 });
    expect(config.outbox.stateDir).toBe(path.join(dir, 'state'));
    expect(sources['capture.stallTimeoutMs']).toEqual({ kind: 'default' });
  });

  it('host names that are not topic levels become valid device ids', () => {
    expect(load({ hostname: 'jetson nano.ward3.local' }).config.deviceId).toBe('jetson-nano');
  });

  it('an unwritable default state dir falls back to $XDG_STATE_HOME/dermstream, and says so', () => {
    const r = load({ isWritableDir: () => false, env: { XDG_STATE_HOME: '/x/state' } });
    expect(r.config.outbox.stateDir).toBe('/x/state/dermstream');
    expect(r.notices.join('\n')).toMatch(/not writable.*\/x\/state\/dermstream/);
    const home = load({ isWritableDir: () => false, env: { HOME: '/home/u' } });
    expect(home.config.outbox.stateDir).toBe('/home/u/.local/state/dermstream');
  });

  it("systemd's $STATE_DIRECTORY is the default state dir under the unit", () => {
    expect(load({ env: { STATE_DIRECTORY: '/var/lib/dermstream' } }).config.outbox.stateDir).toBe('/var/lib/dermstream');
  });

  it('a missing default file is fine; a missing explicit file is an error', () => {
    expect(() => load()).not.toThrow();
    const e = fails({ configPath: path.join(dir, 'nope.yaml') });
    expect(e.message).toMatch(/nope\.yaml.*configuration file not found/);
  });
});

describe('precedence: file < env < flag', () => {
  const f = file('capture:\n  fps: 10\n  stallTimeoutMs: 3000\nmqtt:\n  topicPrefix: fromfile\n  brokerUrl: mqtt://file:1883\nlog:\n  level: warn\n');

  it('each layer overrides the one below, key by key, and sources say which', () => {
    const r = load({
      configPath: f,
      env: { DERMSTREAM_CAPTURE__FPS: '20', DERMSTREAM_MQTT__TOPIC_PREFIX: 'fromenv' },
      flags: flags('--fps', '30'),
    });
    expect(r.config.capture.fps).toBe(30);
    expect(r.config.capture.stallTimeoutMs).toBe(3000);
    expect(r.config.mqtt.topicPrefix).toBe('fromenv');
    expect(r.config.log.level).toBe('warn');
    expect(r.sources['capture.fps']).toEqual({ kind: 'flag', flag: '--fps' });
    expect(r.sources['mqtt.topicPrefix']).toEqual({ kind: 'env', name: 'DERMSTREAM_MQTT__TOPIC_PREFIX' });
    expect(r.sources['capture.stallTimeoutMs']).toMatchObject({ kind: 'file', line: 3 });
    expect(r.sources['http.port']).toEqual({ kind: 'default' });
  });

  it('env aliases DERMSTREAM_BROKER_URL / DERMSTREAM_LOG_LEVEL; the full name wins over the alias', () => {
    expect(load({ env: { DERMSTREAM_BROKER_URL: 'mqtt://a:1883', DERMSTREAM_LOG_LEVEL: 'debug' } }).config).toMatchObject({ mqtt: { brokerUrl: 'mqtt://a:1883' }, log: { level: 'debug' } });
    expect(load({ env: { DERMSTREAM_BROKER_URL: 'mqtt://a:1883', DERMSTREAM_MQTT__BROKER_URL: 'mqtt://b:1883' } }).config.mqtt.brokerUrl).toBe('mqtt://b:1883');
  });

  it('--config and $DERMSTREAM_CONFIG choose the file', () => {
    expect(load({ flags: flags('--config', f) }).config.mqtt.topicPrefix).toBe('fromfile');
    expect(load({ env: { DERMSTREAM_CONFIG: f } }).config.mqtt.topicPrefix).toBe('fromfile');
  });

  it('--set reaches any key; boolean flags set their value only when given', () => {
    const r = load({ flags: flags('--set', 'mqtt.snapshot.maxHz=1', '--set', 'pipeline.debounce.windowSize=15', '--no-http', '--loop') });
    expect(r.config.mqtt.snapshot.maxHz).toBe(1);
    expect(r.config.pipeline.debounce.windowSize).toBe(15);
    expect(r.config.http.enabled).toBe(false);
    expect(r.config.capture.loop).toBe(true);
    const plain = load({ configPath: file('http:\n  enabled: false\n'), flags: flags() });
    expect(plain.config.http.enabled).toBe(false); // `--no-http` not given does not force true
    // Flags that set their key to false when given (they used to be dropped: `--fast` never played fast).
    const off = load({ flags: flags('--fast', '--log-json') });
    expect(off.config.capture.realtime).toBe(false);
    expect(off.config.log.pretty).toBe(false);
    const none = load({ configPath: file('capture:\n  realtime: false\nlog:\n  pretty: true\n'), flags: flags() });
    expect(none.config.capture.realtime).toBe(false);
    expect(none.config.log.pretty).toBe(true);
  });

  it('the env rule maps both ways', () => {
    expect(envNameFor(['mqtt', 'tls', 'keyPassphraseFile'])).toBe('DERMSTREAM_MQTT__TLS__KEY_PASSPHRASE_FILE');
    expect(pathForEnv('DERMSTREAM_CAPTURE__BACKOFF__MAX_MS')).toEqual(['capture', 'backoff', 'maxMs']);
    expect(pathForEnv('DERMSTREAM_DEVICE_ID')).toEqual(['deviceId']);
  });
});

describe('secrets', () => {
  it('passwordFile / keyPassphraseFile (also via _FILE env) are read; print masks every secret', () => {
    const pw = secret('hunter2');
    const pass = secret('keypass');
    const cert = file(PEM_CERT, 'client.pem');
    const key = file('-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n', 'client.key');
    const ca = file(PEM_CERT, 'ca.pem');
    const r = load({
      configPath: file(`mqtt:\n  brokerUrl: mqtts://b:8883\n  username: dev\n  tls:\n    ca: ${ca}\n    cert: ${cert}\n    key: ${key}\n    keyPassphraseFile: ${pass}\n`),
      env: { DERMSTREAM_MQTT__PASSWORD_FILE: pw },
    });
    expect(r.config.mqtt.password).toBe('hunter2');
    expect(r.config.mqtt.tls.keyPassphrase).toBe('keypass');
    const printed = printConfig(r.config, { sources: r.sources });
    expect(printed).not.toContain('hunter2');
    expect(printed).not.toContain('keypass');
    expect(printed).toMatch(/password: "\*\*\*"/);
    expect(printed).toMatch(/keyPassphrase: "\*\*\*"/);
    expect(printed).toContain(`passwordFile: ${pw} # from env DERMSTREAM_MQTT__PASSWORD_FILE`);
    // The printed configuration is valid YAML with the same shape.
    expect(parseYaml(printed).mqtt.username).toBe('dev');
  });

  it('an inline password is masked, also in an error about it', () => {
    const r = load({ env: { DERMSTREAM_MQTT__PASSWORD: 'topsecret' } });
    expect(printConfig(r.config)).not.toContain('topsecret');
    const e = fails({ configPath: file('mqtt:\n  password: 123456\n') });
    expect(e.message).not.toContain('123456');
    expect(problem(e, 'mqtt.password').value).toBe('***');
  });
});

describe('bad configurations: each stops start-up with key, value, origin and what is allowed (exit 78)', () => {
  const cases: Array<{ kind: string; opts: () => LoadConfigOptions; key: string; message: RegExp; from?: RegExp; allowed?: RegExp }> = [
    { kind: 'unknown top-level key, with suggestion', opts: () => ({ configPath: file('sorce: test\n') }), key: 'sorce', message: /unknown key; did you mean "source"/, from: /:1$/ },
    { kind: 'misspelled nested key', opts: () => ({ configPath: file('mqtt:\n  brokerURL: mqtt://x\n') }), key: 'mqtt.brokerURL', message: /did you mean "mqtt\.brokerUrl"/, from: /:2$/ },
    { kind: 'key without its unit suffix', opts: () => ({ configPath: file('capture:\n  stallTimeout: 3000\n') }), key: 'capture.stallTimeout', message: /did you mean "capture\.stallTimeoutMs"/ },
    { kind: 'right key at the wrong level', opts: () => ({ configPath: file('brokerUrl: mqtt://x\n') }), key: 'brokerUrl', message: /"mqtt\.brokerUrl" \(it belongs under mqtt\)/ },
    { kind: 'wrong type', opts: () => ({ configPath: file('capture:\n  fps: fast\n') }), key: 'capture.fps', message: /expected number, got string/, allowed: /1–240/ },
    { kind: 'fps out of range', opts: () => ({ configPath: file('capture:\n  fps: 500\n') }), key: 'capture.fps', message: /must be ≤ 240/ },
    { kind: 'port out of range', opts: () => ({ configPath: file('http:\n  port: 70000\n') }), key: 'http.port', message: /must be ≤ 65535/, allowed: /TCP port/ },
    { kind: 'negative timeout', opts: () => ({ configPath: file('capture:\n  stallTimeoutMs: -5\n') }), key: 'capture.stallTimeoutMs', message: /must be ≥ 100/ },
    { kind: 'non-integer where a whole number is needed', opts: () => ({ configPath: file('run:\n  maxFrames: 2.5\n') }), key: 'run.maxFrames', message: /whole number/ },
    { kind: 'bad broker URL scheme', opts: () => ({ configPath: file('mqtt:\n  brokerUrl: http://broker:1883\n') }), key: 'mqtt.brokerUrl', message: /unsupported scheme "http"/, allowed: /mqtts:\/\// },
    { kind: 'broker URL that is not a URL', opts: () => ({ configPath: file('mqtt:\n  brokerUrl: broker.local\n') }), key: 'mqtt.brokerUrl', message: /is not a URL/ },
    { kind: 'credentials inside the broker URL', opts: () => ({ configPath: file('mqtt:\n  brokerUrl: mqtt://u:secretpw@b:1883\n') }), key: 'mqtt.brokerUrl', message: /must not contain credentials/ },
    { kind: 'missing passwordFile', opts: () => ({ configPath: file(`mqtt:\n  brokerUrl: mqtt://b\n  passwordFile: ${dir}/no-such-secret\n`) }), key: 'mqtt.passwordFile', message: /secret file does not exist/ },
    { kind: 'empty passwordFile', opts: () => ({ configPath: file(`mqtt:\n  passwordFile: ${file('', 'empty-secret')}\n`) }), key: 'mqtt.passwordFile', message: /secret file is empty/ },
    { kind: 'unreadable TLS file (a folder)', opts: () => ({ configPath: file(`mqtt:\n  brokerUrl: mqtts://b\n  tls:\n    ca: ${dir}\n`) }), key: 'mqtt.tls.ca', message: /TLS file is not a regular file/ },
    { kind: 'missing TLS file', opts: () => ({ configPath: file(`mqtt:\n  brokerUrl: mqtts://b\n  tls:\n    ca: ${dir}/ca-missing.pem\n`) }), key: 'mqtt.tls.ca', message: /TLS file does not exist/ },
    // Issue 10 item 15: accepted-bad configuration.
    { kind: 'a text file as the CA', opts: () => ({ configPath: file(`mqtt:\n  brokerUrl: mqtts://b\n  tls:\n    ca: ${file('ask IT for the CA\n', 'notes.txt')}\n`) }), key: 'mqtt.tls.ca', message: /not a PEM certificate/ },
    { kind: 'http.host that only looks like IPv4', opts: () => ({ configPath: file('http:\n  host: 999.1.1.1\n') }), key: 'http.host', message: /not a valid IPv4 address/ },
    // Issue 10 item 12: certificate checks off only with explicit consent.
    { kind: 'rejectUnauthorized false without allowInsecureTls', opts: () => ({ configPath: file('mqtt:\n  brokerUrl: mqtts://b\n  tls:\n    rejectUnauthorized: false\n') }), key: 'mqtt.tls.rejectUnauthorized', message: /turns off the check/ },
    // Issue 10 item 9: trusted keys must be Ed25519 public keys; requiring a signature needs one.
    { kind: 'a certificate as a trusted model key', opts: () => ({ configPath: file(`model:\n  trustedKeys: [${file(PEM_CERT, 'not-a-key.pem')}]\n`) }), key: 'model.trustedKeys.0', message: /not a PEM public key/ },
    { kind: 'requireSignature without trusted keys', opts: () => ({ configPath: file('model:\n  requireSignature: true\n') }), key: 'model.requireSignature', message: /trustedKeys is empty/ },
    { kind: 'TLS files with a plain mqtt:// URL', opts: () => ({ configPath: file(`mqtt:\n  brokerUrl: mqtt://b\n  tls:\n    ca: ${file(PEM_CERT, 'ca2.pem')}\n`) }), key: 'mqtt.tls.ca', message: /uses mqtt:\/\/ \(no TLS\)/ },
    { kind: 'client cert without key', opts: () => ({ configPath: file(`mqtt:\n  brokerUrl: mqtts://b\n  tls:\n    cert: ${file('x', 'c.pem')}\n`) }), key: 'mqtt.tls.cert', message: /needs its key/ },
    { kind: 'password and passwordFile both', opts: () => ({ configPath: file(`mqtt:\n  password: "x"\n  passwordFile: ${secret('y')}\n`) }), key: 'mqtt.passwordFile', message: /both mqtt\.password and mqtt\.passwordFile/ },
    { kind: 'bad log level', opts: () => ({ configPath: file('log:\n  level: loud\n') }), key: 'log.level', message: /must be one of "fatal", "error"/ },
    { kind: 'bad source string', opts: () => ({ configPath: file('source: webcam0\n') }), key: 'source', message: /unknown source "webcam0"/ },
    { kind: 'source that is a clip without its scheme', opts: () => ({ configPath: file('source: clip.avi\n') }), key: 'source', message: /unknown source/, allowed: /did you mean `file:clip\.avi`/ },
    { kind: 'bad backend', opts: () => ({ configPath: file('model:\n  backend: gpu\n') }), key: 'model.backend', message: /must be one of "auto", "tensorflow", "wasm", "cpu"/ },
    { kind: 'explicit model folder that does not exist', opts: () => ({ configPath: file(`model:\n  path: ${dir}/no-model\n`) }), key: 'model.path', message: /model folder does not exist/ },
    { kind: 'device id that is not a topic level', opts: () => ({ configPath: file('deviceId: ward3/bed12\n') }), key: 'deviceId', message: /not in the accepted form/, allowed: /A–Z a–z 0–9/ },
    { kind: 'topic prefix with a wildcard', opts: () => ({ configPath: file('mqtt:\n  topicPrefix: "derm/#"\n') }), key: 'mqtt.topicPrefix', message: /not in the accepted form/, allowed: /without wildcards/ },
    { kind: 'a string where a mapping belongs', opts: () => ({ configPath: file('mqtt: mqtt://broker\n') }), key: 'mqtt', message: /expected a mapping \(nested keys\), got string/ },
    { kind: 'number where a string belongs (YAML unquoted)', opts: () => ({ configPath: file('deviceId: 1234\n') }), key: 'deviceId', message: /put it in quotes in YAML/ },
    { kind: 'width without height', opts: () => ({ configPath: file('capture:\n  width: 640\n') }), key: 'capture.width', message: /go together/ },
    { kind: 'backoff max below initial', opts: () => ({ configPath: file('capture:\n  backoff:\n    initialMs: 5000\n    maxMs: 1000\n') }), key: 'capture.backoff.maxMs', message: /below capture\.backoff\.initialMs/ },
    { kind: 'conflict: snapshot.maxHz > liveMaxHz', opts: () => ({ configPath: file('mqtt:\n  liveMaxHz: 2\n  snapshot:\n    enabled: true\n    maxHz: 5\n') }), key: 'mqtt.snapshot.maxHz', message: /exceeds mqtt\.liveMaxHz \(2\)/ },
    { kind: 'conflict: two listeners on one port', opts: () => ({ configPath: file('http:\n  port: 1883\n') }), key: 'mqtt.embedded.port', message: /same port as http\.port/ },
    { kind: 'debounce rule across keys', opts: () => ({ configPath: file('pipeline:\n  debounce:\n    stableAgreement: 0.6\n    holdFraction: 0.9\n') }), key: 'pipeline.debounce.holdFraction', message: /must not exceed stableAgreement/ },
    { kind: 'stableAgreement not a majority', opts: () => ({ configPath: file('pipeline:\n  debounce:\n    stableAgreement: 0.5\n') }), key: 'pipeline.debounce.stableAgreement', message: /must be > 0\.5/ },
    { kind: 'env var with wrong type', opts: () => ({ env: { DERMSTREAM_CAPTURE__FPS: 'abc' } }), key: 'capture.fps', message: /expected number, got string/, from: /^env DERMSTREAM_CAPTURE__FPS$/ },
    { kind: 'env var with a boolean that is not one', opts: () => ({ env: { DERMSTREAM_HTTP__ENABLED: 'maybe' } }), key: 'http.enabled', message: /expected boolean/ },
    { kind: 'misspelled env var', opts: () => ({ env: { DERMSTREAM_MQTT__PASWORD: 'x' } }), key: 'mqtt.pasword', message: /did you mean DERMSTREAM_MQTT__PASSWORD\?/ },
    { kind: 'flag out of range', opts: () => ({ flags: flags('--fps', '0') }), key: 'capture.fps', message: /must be ≥ 1/, from: /^flag --fps$/ },
    { kind: 'flag of the wrong type', opts: () => ({ flags: flags('--http-port', 'http') }), key: 'http.port', message: /expected number/, from: /^flag --http-port$/ },
    { kind: '--set of an unknown key', opts: () => ({ flags: flags('--set', 'mqtt.snapshot.maxHZ=1') }), key: 'mqtt.snapshot.maxHZ', message: /did you mean mqtt\.snapshot\.maxHz/ },
  ];

  it.each(cases)('$kind', ({ opts, key, message, from, allowed }) => {
    const e = fails(opts());
    const p = problem(e, key);
    expect(p.message).toMatch(message);
    if (from) {
      const where = p.source?.kind === 'file' ? `${p.source.file}:${p.source.line}` : p.source?.kind === 'env' ? `env ${p.source.name}` : p.source?.kind === 'flag' ? `flag ${p.source.flag}` : '';
      expect(where).toMatch(from);
    }
    if (allowed) expect(p.allowed).toMatch(allowed);
    // The message names the key and, when the value is the problem, the value.
    expect(e.message).toContain(key);
  });

  it(`covers at least 20 kinds (${cases.length})`, () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
  });

  it('YAML syntax errors give the line', () => {
    const f = file('capture:\n  fps: 30\n stallTimeoutMs: [1\n');
    const e = fails({ configPath: f });
    expect(e.problems[0]!.message).toMatch(/YAML syntax error/);
    expect(e.problems[0]!.source).toMatchObject({ kind: 'file', line: expect.any(Number) });
    expect(e.message).toMatch(new RegExp(`${path.basename(f)}:\\d+`));
  });

  it('duplicate keys are a YAML error with the line of the second', () => {
    const e = fails({ configPath: file('capture:\n  fps: 30\n  fps: 15\n') });
    expect(e.problems[0]).toMatchObject({ message: expect.stringMatching(/unique/i), source: { kind: 'file', line: 3 } });
  });

  it('a file that is not a mapping', () => {
    expect(fails({ configPath: file('- a\n- b\n') }).message).toMatch(/must be a mapping/);
  });

  it('every problem is reported at once, not only the first', () => {
    const e = fails({ configPath: file('sorce: x\ncapture:\n  fps: 0\nlog:\n  level: loud\n'), env: { DERMSTREAM_HTTP__PORT: 'x' } });
    expect(e.problems.map((p) => p.path).sort()).toEqual(['capture.fps', 'http.port', 'log.level', 'sorce']);
    expect(e.message).toMatch(/invalid configuration \(4 problems\)/);
  });
});

describe('example configurations validate against the schema', () => {
  const root = path.resolve(import.meta.dirname, '../..');
  it.each(['deploy/jetson/config.jetson.yaml', 'deploy/jetson/config.x86.yaml'])('%s', (rel) => {
    // Their secret and CA files live on the device: point them at stand-ins, as an IT engineer's env would.
    const env = rel.endsWith('config.jetson.yaml') ? { DERMSTREAM_MQTT__PASSWORD_FILE: secret('pw'), DERMSTREAM_MQTT__TLS__CA: file(PEM_CERT, `ca-${n}.pem`), DERMSTREAM_MODEL__TRUSTED_KEYS: path.join(root, 'deploy/keys/dev-model-signing.pub') } : {};
    const r = load({ configPath: path.join(root, rel), env });
    expect(r.config.source.length).toBeGreaterThan(0);
    if (rel.endsWith('config.jetson.yaml')) {
      expect(r.config.source).toBe(
        'gst:v4l2src device=/dev/dermatoscope io-mode=2 ! image/jpeg,width=1280,height=720,framerate=30/1 ! nvv4l2decoder mjpeg=1 ! nvvidconv ! video/x-raw,format=RGBA,width=640,height=480',
      );
      expect(r.config.mqtt.password).toBe('pw');
    }
  });
  // configs/dermstream.example.yaml: test/service/config_example.test.ts (generated, kept equal).
});

describe('suggestions', () => {
  it('Levenshtein distance', () => {
    expect(levenshtein('kitten', 'sitting')).toBe(3);
    expect(levenshtein('', 'abc')).toBe(3);
    expect(levenshtein('same', 'same')).toBe(0);
  });
  it('closest is case-insensitive and refuses far-fetched guesses', () => {
    expect(closest('brokerURL', ['brokerUrl', 'username'])).toBe('brokerUrl');
    expect(closest('zzzzzz', ['source', 'capture'])).toBeUndefined();
  });
});

describe('state dir check', () => {
  it('a stateDir that is a file is refused', () => {
    const f = file('x', 'not-a-dir');
    expect(problem(fails({ flags: flags('--state-dir', f) }), 'outbox.stateDir').message).toMatch(/not a folder/);
  });
  it('an explicit stateDir is used as given', () => {
    const d = path.join(dir, 'explicit-state');
    mkdirSync(d);
    expect(load({ flags: flags('--state-dir', d), isWritableDir: () => false }).notices).toEqual([]);
  });
});

describe('runOptionsFrom: config → startRun options', () => {
  it('feeds capture, pipeline, publisher and the embedded broker from their keys', async () => {
    const { runOptionsFrom } = await import('../../src/service/config/index.js');
    const pw = secret('pw1');
    const { config } = load({
      configPath: file(`source: test\ncapture:\n  width: 640\n  height: 480\n  fps: 15\n  backoff:\n    initialMs: 250\nmqtt:\n  brokerUrl: mqtt://b:1883\n  passwordFile: ${pw}\n  liveMaxHz: 5\n  snapshot:\n    maxHz: 1\noutbox:\n  maxAgeHours: 2\npipeline:\n  debounce:\n    windowSize: 12\n`),
    });
    const o = runOptionsFrom(config);
    expect(o.capture).toMatchObject({ width: 640, height: 480, fps: 15, stallTimeoutMs: 2000, restart: { initialMs: 250, maxMs: 10000 } });
    expect(o.publisher).toMatchObject({ prefix: 'dermstream', password: 'pw1', rates: { liveMaxHz: 5, snapshotMaxHz: 0, snapshotMaxWidth: 320 }, outbox: { maxAgeMs: 7_200_000 } });
    expect(o.pipeline.debounceParams?.windowSize).toBe(12);
    expect(o.brokerUrl).toBe('mqtt://b:1883');
    expect(o.embedded).toEqual({ host: '127.0.0.1', tcpPort: 1883, wsPort: 9001 });
    // A recorded clip keeps capture's own default: no restarts.
    expect(runOptionsFrom(load({ flags: flags('--source', 'file:/x.avi') }).config).capture.restart).toBeUndefined();
  });
});

describe('the operating point: the model’s unless a key overrides it', () => {
  const shippedManifest = path.resolve(import.meta.dirname, '../../models/default/manifest.json');
  const modelDir = (manifest: object) => {
    const d = mkdtempSync(path.join(dir, 'model-'));
    writeFileSync(path.join(d, 'manifest.json'), JSON.stringify(manifest));
    return d;
  };

  it('absent keys: the shipped model’s threshold ± margin, with the manifest as their source', async () => {
    const { runOptionsFrom } = await import('../../src/service/config/index.js');
    const r = load();
    const { threshold, margin } = shippedOperatingPoint();
    expect(r.config.pipeline.debounce.malignantThreshold).toBe(threshold);
    expect(r.config.pipeline.debounce.uncertainMargin).toBe(margin);
    expect(r.sources['pipeline.debounce.malignantThreshold']).toEqual({ kind: 'model', file: shippedManifest });
    expect(runOptionsFrom(r.config, { sources: r.sources }).operatingPoint).toEqual({ threshold, margin, source: 'model' });
    expect(printConfig(r.config, { sources: r.sources })).toContain(`malignantThreshold: ${threshold} # from model ${shippedManifest}`);
    expect(printConfig(r.config, { sources: r.sources })).toMatch(/windowSize: 10 # default\n/);
  });

  it('an explicit key wins and the wire says "config"; the other key stays the model’s', async () => {
    const { runOptionsFrom } = await import('../../src/service/config/index.js');
    const r = load({ configPath: file('pipeline:\n  debounce:\n    malignantThreshold: 0.3\n') });
    expect(r.config.pipeline.debounce).toMatchObject({ malignantThreshold: 0.3, uncertainMargin: 0.03 });
    expect(r.sources['pipeline.debounce.malignantThreshold']).toMatchObject({ kind: 'file', line: 3 });
    expect(r.sources['pipeline.debounce.uncertainMargin']).toEqual({ kind: 'model', file: shippedManifest });
    expect(runOptionsFrom(r.config, { sources: r.sources }).operatingPoint).toEqual({ threshold: 0.3, margin: 0.03, source: 'config' });
    expect(runOptionsFrom(r.config, { sources: r.sources }).pipeline.debounceParams).toMatchObject({ malignantThreshold: 0.3, uncertainMargin: 0.03 });
  });

  it('a model that declares none: an error naming both fixes, unless both keys are set', () => {
    const d = modelDir({ name: 'old-model' });
    const e = fails({ flags: flags('--model', d) });
    const p = problem(e, 'pipeline.debounce.malignantThreshold');
    expect(p.message).toMatch(/the model declares no operating point .*manifest\.json has no operatingPoint/);
    expect(p.allowed).toMatch(/set pipeline\.debounce\.malignantThreshold and pipeline\.debounce\.uncertainMargin .* or re-ship the model with `dermstream quantize --calibrate/);
    const ok = load({ flags: flags('--model', d, '--set', 'pipeline.debounce.malignantThreshold=0.2', '--set', 'pipeline.debounce.uncertainMargin=0.02') });
    expect(ok.config.pipeline.debounce).toMatchObject({ malignantThreshold: 0.2, uncertainMargin: 0.02 });
  });

  it('a malformed operating point in the manifest, or a margin that leaves (0, 1), is refused', () => {
    const d = modelDir({ operatingPoint: { threshold: 1.5, margin: 0.03, sensitivity: 0.7, specificity: 0.5, fittedOn: 'x' } });
    expect(problem(fails({ flags: flags('--model', d) }), 'pipeline.debounce.malignantThreshold').message).toMatch(/bad threshold 1\.5/);
    const m = problem(fails({ flags: flags('--set', 'pipeline.debounce.uncertainMargin=0.2') }), 'pipeline.debounce.uncertainMargin');
    expect(m.message).toContain(`threshold ${shippedOperatingPoint().threshold} ± 0.2 leaves (0, 1)`);
  });
});
