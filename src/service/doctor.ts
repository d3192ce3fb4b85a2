/**
 * `dermstream doctor`: checks an installation the way the IT engineer would, one line each, OK / WARN /
 * FAIL / SKIP with the fix. It reads what the service would use (the same configuration) and changes
 * nothing: the broker gets a non-retained probe on `<prefix>/<deviceId>/doctor` (never the retained
 * `status` topic of a running instance) under a client id of its own (reusing the service's would make the
 * broker disconnect the running service).
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, statfsSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { checkElements, elementsFor } from '../capture/check_elements.js';
import { preflight } from '../capture/preflight.js';
import { parseSource, type SourceSpec } from '../capture/source_spec.js';
import type { DermstreamConfig } from './config/schema.js';
import { mqttTlsSettings } from './config/run_options.js';
import { buildMqttConnect, MqttSettingsError } from '../publish/connect_options.js';
import { doctorProbeTopic } from '../types/topics.js';
import { checkManifestSignature, parseTrustedKey, readManifestSignature, type SignatureCheck } from '../model/manifest_signature.js';
import type { ModelTrust } from '../model/weights_io.js';

export type DoctorStatus = 'OK' | 'WARN' | 'FAIL' | 'SKIP';

export interface DoctorResult {
  check: string;
  status: DoctorStatus;
  summary: string;
  details?: string[];
  fix?: string;
}

export const DOCTOR_CHECKS = ['gstreamer', 'camera', 'model', 'backend', 'engine', 'broker', 'disk', 'notify'] as const;
export type DoctorCheckName = (typeof DOCTOR_CHECKS)[number];

export interface DoctorOptions {
  skip?: readonly string[];
  timeoutMs?: number;
  /** For tests: run a command, returning stdout or undefined when it is missing or fails. */
  exec?: (cmd: string, args: string[], timeoutMs: number) => Promise<ExecResult>;
}

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
  missing?: boolean;
}

export function execCommand(cmd: string, args: string[], timeoutMs: number): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(t);
      resolve({ code: null, stdout, stderr: err.message, missing: err.code === 'ENOENT' });
    });
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

export async function runDoctor(config: DermstreamConfig, opts: DoctorOptions = {}): Promise<DoctorResult[]> {
  const skip = new Set(opts.skip ?? []);
  const timeoutMs = opts.timeoutMs ?? 5000;
  const exec = opts.exec ?? execCommand;
  let spec: SourceSpec | undefined;
  try {
    spec = parseSource(config.source);
  } catch {
    spec = undefined; // config validation already reported it
  }
  const checks: Record<DoctorCheckName, () => Promise<DoctorResult | DoctorResult[]>> = {
    gstreamer: async () => checkGstreamer(spec),
    camera: () => checkCamera(spec, config, exec, timeoutMs),
    model: () => checkModel(config.model.path, { trustedKeys: config.model.trustedKeys, requireSignature: config.model.requireSignature }),
    backend: () => checkBackend(config.model.backend),
    engine: () => checkEngine(config.model),
    broker: () => checkBroker(config, timeoutMs),
    disk: async () => checkDisk(config.outbox.stateDir, config.outbox.maxBytes),
    notify: () => checkNotify(exec, timeoutMs),
  };
  const results: DoctorResult[] = [];
  for (const name of DOCTOR_CHECKS) {
    if (skip.has(name)) {
      results.push({ check: name, status: 'SKIP', summary: 'skipped (--skip)' });
      continue;
    }
    try {
      const r = await checks[name]();
      results.push(...(Array.isArray(r) ? r : [r]));
    } catch (err) {
      results.push({ check: name, status: 'FAIL', summary: `check crashed: ${(err as Error).message}` });
    }
  }
  return results;
}

export function formatDoctor(results: readonly DoctorResult[]): string {
  const lines: string[] = [];
  for (const r of results) {
    lines.push(`${r.status.padEnd(4)}  ${r.check.padEnd(10)} ${r.summary}`);
    for (const d of r.details ?? []) lines.push(`                 ${d}`);
    if (r.fix && r.status !== 'OK') lines.push(`      fix:       ${r.fix}`);
  }
  const failed = results.filter((r) => r.status === 'FAIL').length;
  const warned = results.filter((r) => r.status === 'WARN').length;
  lines.push('', failed ? `${failed} check(s) failed${warned ? `, ${warned} warning(s)` : ''}` : `all checks passed${warned ? ` (${warned} warning(s))` : ''}`);
  return lines.join('\n');
}

// ---- GStreamer -------------------------------------------------------------------------------------

function checkGstreamer(spec: SourceSpec | undefined): DoctorResult {
  if (!spec) return { check: 'gstreamer', status: 'SKIP', summary: 'source is invalid (see the configuration error)' };
  const names = elementsFor(spec);
  if (names.length === 0) return { check: 'gstreamer', status: 'OK', summary: `${spec.kind}: source needs no GStreamer element` };
  let checks;
  try {
    checks = checkElements(names);
  } catch (err) {
    const e = err as Error & { hint?: string };
    return { check: 'gstreamer', status: 'FAIL', summary: `GStreamer binding unavailable: ${e.message}`, fix: e.hint ?? 'apt-get install libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev build-essential, then `npm rebuild gstreamer-superficial`' };
  }
  const missing = checks.filter((c) => !c.present);
  if (missing.length === 0) return { check: 'gstreamer', status: 'OK', summary: `elements for ${spec.kind}: ${names.join(', ')}` };
  return {
    check: 'gstreamer',
    status: 'FAIL',
    summary: `missing element(s): ${missing.map((m) => m.element).join(', ')}`,
    details: missing.map((m) => m.hint ?? m.element),
    fix: `sudo apt-get install ${[...new Set(missing.map((m) => m.package).filter((p): p is string => !!p && !p.includes('(')))].join(' ') || '<the packages named above>'}`,
  };
}

// ---- camera ----------------------------------------------------------------------------------------

export interface V4l2FormatInfo {
  fourcc: string;
  description: string;
  sizes: Array<{ width: number; height: number; fps: number[] }>;
}

/** Parses `v4l2-ctl --list-formats-ext`. */
export function parseV4l2Formats(text: string): V4l2FormatInfo[] {
  const out: V4l2FormatInfo[] = [];
  let size: V4l2FormatInfo['sizes'][number] | undefined;
  for (const line of text.split('\n')) {
    const f = /^\s*\[\d+\]:\s*'([^']+)'\s*\(([^)]*)/.exec(line);
    if (f) {
      out.push({ fourcc: f[1]!, description: f[2]!, sizes: [] });
      size = undefined;
      continue;
    }
    const s = /Size:\s*\w+\s+(\d+)x(\d+)/.exec(line);
    if (s && out.length) {
      size = { width: Number(s[1]), height: Number(s[2]), fps: [] };
      out[out.length - 1]!.sizes.push(size);
      continue;
    }
    const i = /Interval:.*\(([\d.]+) fps\)/.exec(line);
    if (i && size) size.fps.push(Number(i[1]));
  }
  return out;
}

function deviceOf(spec: SourceSpec): string | undefined {
  if (spec.kind === 'v4l2') return spec.device;
  if (spec.kind === 'gst') return /device=("?)(\/dev\/[^\s"!]+)\1/.exec(spec.description)?.[2];
  return undefined;
}

async function checkCamera(spec: SourceSpec | undefined, config: DermstreamConfig, exec: NonNullable<DoctorOptions['exec']>, timeoutMs: number): Promise<DoctorResult> {
  if (!spec) return { check: 'camera', status: 'SKIP', summary: 'source is invalid' };
  const device = deviceOf(spec);
  if (!device) {
    const pre = preflight(spec);
    if (pre) return { check: 'camera', status: 'FAIL', summary: pre.message, fix: pre.hint };
    return { check: 'camera', status: 'OK', summary: `${spec.kind} source, no camera device (${spec.id.slice(0, 80)})` };
  }
  const pre = preflight({ kind: 'v4l2', id: `v4l2:${device}`, device });
  if (pre) return { check: 'camera', status: 'FAIL', summary: pre.message, fix: pre.hint };
  const r = await exec('v4l2-ctl', ['-d', device, '--list-formats-ext'], timeoutMs);
  if (r.missing || r.code !== 0) {
    const mon = await exec('gst-device-monitor-1.0', ['Video/Source'], timeoutMs);
    if (!mon.missing && mon.code === 0 && mon.stdout.includes(device)) {
      const block = mon.stdout.split(/\n(?=Device found:)/).find((b) => b.includes(device)) ?? '';
      const caps = block.split('\n').filter((l) => /image\/jpeg|video\/x-raw/.test(l)).map((l) => l.trim()).slice(0, 8);
      return { check: 'camera', status: 'OK', summary: `${device} present (formats from gst-device-monitor)`, details: caps };
    }
    return { check: 'camera', status: 'WARN', summary: `${device} present and accessible; formats not listed`, fix: 'install v4l-utils (`sudo apt-get install v4l-utils`) to list the formats and sizes the camera offers' };
  }
  const formats = parseV4l2Formats(r.stdout);
  const details = formats.map((f) => `${f.fourcc}: ${f.sizes.slice(0, 6).map((s) => `${s.width}x${s.height}@${Math.max(0, ...s.fps)}`).join(' ')}${f.sizes.length > 6 ? ' …' : ''}`);
  const { width, height, fps } = config.capture;
  if (width !== undefined && height !== undefined && spec.kind === 'v4l2') {
    const fits = formats.some((f) => /MJPG|YUYV/.test(f.fourcc) && f.sizes.some((s) => s.width === width && s.height === height && (fps === undefined || s.fps.some((x) => Math.abs(x - fps) < 0.5))));
    if (!fits) {
      return { check: 'camera', status: 'WARN', summary: `${device}: ${width}x${height}${fps ? `@${fps}` : ''} is not a native MJPEG/YUYV mode (GStreamer will scale)`, details, fix: 'pick capture.width/height/fps from the list above' };
    }
  }
  return { check: 'camera', status: formats.length ? 'OK' : 'WARN', summary: `${device}: ${formats.length} format(s)`, details };
}

// ---- model -----------------------------------------------------------------------------------------

interface ManifestLike {
  name?: string;
  version?: string;
  quantization?: string;
  weightsSha256?: string;
  files?: Array<{ path: string; bytes: number; sha256: string }>;
}

function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (d) => h.update(d))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

/**
 * Re-hashes every file of the model folder against its manifest.json and checks the manifest's signature (as
 * loadModel does), without loading the weights. "verified" is said only when a trusted key's signature checks: the
 * hashes alone prove nothing against someone who can rewrite the manifest too.
 */
export async function checkModel(dir: string, trust: ModelTrust = {}): Promise<DoctorResult> {
  const fix = 'copy the model folder again (model.json, manifest.json, group*-shard*.bin) or set model.path';
  const manifestPath = path.join(dir, 'manifest.json');
  if (!existsSync(manifestPath)) return { check: 'model', status: 'FAIL', summary: `no manifest.json in ${dir}`, fix };
  let m: ManifestLike;
  try {
    m = JSON.parse(readFileSync(manifestPath, 'utf8')) as ManifestLike;
  } catch (err) {
    return { check: 'model', status: 'FAIL', summary: `manifest.json is not valid JSON: ${(err as Error).message}`, fix };
  }
  const files = m.files ?? [];
  if (files.length === 0) return { check: 'model', status: 'FAIL', summary: 'manifest.json lists no files', fix };
  const bad: string[] = [];
  let bytes = 0;
  for (const f of files) {
    const p = path.join(dir, f.path);
    if (!existsSync(p)) {
      bad.push(`${f.path}: missing`);
      continue;
    }
    const h = await sha256File(p);
    bytes += f.bytes;
    if (h !== f.sha256) bad.push(`${f.path}: SHA-256 ${h.slice(0, 12)}… ≠ manifest ${f.sha256.slice(0, 12)}…`);
  }
  const id = `${m.name ?? '?'} ${m.version ?? '?'} (${m.quantization ?? '?'}, weights ${m.weightsSha256?.slice(0, 12) ?? '?'}…)`;
  if (bad.length) return { check: 'model', status: 'FAIL', summary: `${id}: ${bad.length} file(s) fail their hash`, details: bad, fix };
  const size = `${files.length} files, ${(bytes / 1048576).toFixed(1)} MiB match the manifest`;
  let sig: SignatureCheck;
  try {
    sig = checkManifestSignature(readFileSync(manifestPath), readManifestSignature(dir), (trust.trustedKeys ?? []).map(parseTrustedKey));
  } catch (err) {
    return { check: 'model', status: 'FAIL', summary: `${id}: ${(err as Error).message}`, fix: 'fix model.trustedKeys, or sign the model again (dermstream sign)' };
  }
  const signFix = `sign it with your key (dermstream sign --model ${dir} --key <private key>) and list the public half in model.trustedKeys`;
  switch (sig.status) {
    case 'verified':
      return { check: 'model', status: 'OK', summary: `${id}: ${size}; signature verified (key ${sig.keyId})` };
    case 'invalid':
      return { check: 'model', status: 'FAIL', summary: `${id}: manifest.json does not match its signature (key ${sig.keyId}): changed after signing`, fix };
    case 'untrusted':
      return { check: 'model', status: trust.requireSignature ? 'FAIL' : 'WARN', summary: `${id}: ${size}; signed by key ${sig.keyId}, which is not in model.trustedKeys: NOT verified`, fix: signFix };
    case 'unsigned':
      return { check: 'model', status: trust.requireSignature ? 'FAIL' : 'WARN', summary: `${id}: ${size}; manifest not signed: NOT verified (anyone who can write the folder can rehash it)`, fix: signFix };
  }
}

// ---- backend ---------------------------------------------------------------------------------------

async function checkBackend(preference: DermstreamConfig['model']['backend']): Promise<DoctorResult> {
  const { selectBackend } = await import('../model/backend.js');
  try {
    const b = await selectBackend(preference);
    const gpuWanted = preference === 'auto' && b.name !== 'tensorflow';
    return {
      check: 'backend',
      status: gpuWanted && existsSync('/etc/nv_tegra_release') ? 'WARN' : 'OK',
      summary: `${b.name} (${b.provider})`,
      details: b.skipped.map((s) => `skipped ${s}`),
      fix: 'for the GPU: install @tensorflow/tfjs-node-gpu with a libtensorflow built for this JetPack (deploy/jetson/install.sh --libtensorflow)',
    };
  } catch (err) {
    return { check: 'backend', status: 'FAIL', summary: (err as Error).message.split('\n')[0]!, fix: 'set model.backend: auto, or reinstall with `npm ci --omit=dev`' };
  }
}

// ---- engine ----------------------------------------------------------------------------------------

/**
 * Which inference engine `run` will use with this configuration and model, without starting a session: auto and
 * onnx need the model's ONNX graphs (exported from these weights) and onnxruntime-node's native binary.
 */
export async function checkEngine(model: Pick<DermstreamConfig['model'], 'path' | 'engine' | 'onnx'>): Promise<DoctorResult> {
  const { defaultOrtThreads, loadOrt, onnxUnavailableReason } = await import('../model/onnx/ort_model.js');
  const tfjs = { check: 'engine', status: 'OK' as const, summary: 'tfjs (model.engine: tfjs), on the backend above' };
  if (model.engine === 'tfjs') return tfjs;
  const exportFix = `export the graphs: dermstream export --format onnx --model ${model.path}, then sign the model again`;
  let manifest: Parameters<typeof onnxUnavailableReason>[0];
  try {
    manifest = JSON.parse(readFileSync(path.join(model.path, 'manifest.json'), 'utf8')) as typeof manifest;
  } catch (err) {
    return { check: 'engine', status: 'FAIL', summary: `cannot read ${model.path}/manifest.json: ${(err as Error).message}`, fix: 'see the model check' };
  }
  const reason = onnxUnavailableReason(manifest);
  let ortError: string | undefined;
  let version = '';
  if (!reason) {
    try {
      const ort = await loadOrt();
      version = ` ${(ort as unknown as { env?: { versions?: { node?: string } } }).env?.versions?.node ?? ''}`.trimEnd();
    } catch (err) {
      ortError = `onnxruntime-node does not load: ${(err as Error).message.split('\n')[0]}`;
    }
  }
  const why = reason ?? ortError;
  if (why) {
    const fix = reason ? exportFix : 'reinstall with `npm ci` (onnxruntime-node ships its CPU binary), or set model.engine: tfjs';
    return model.engine === 'onnx'
      ? { check: 'engine', status: 'FAIL', summary: `model.engine is onnx but ${why}`, fix }
      : { check: 'engine', status: 'WARN', summary: `tfjs (auto: ${why}); ONNX Runtime is several times faster on CPU`, fix };
  }
  const threads = model.onnx.threads || defaultOrtThreads();
  return { check: 'engine', status: 'OK', summary: `onnx (ONNX Runtime${version}, ${threads} thread${threads === 1 ? '' : 's'}, providers ${model.onnx.providers.join(', ')}; graphs ${manifest.onnx!.dense} from these weights)` };
}

// ---- broker ----------------------------------------------------------------------------------------

function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

export async function checkBroker(config: DermstreamConfig, timeoutMs: number): Promise<DoctorResult> {
  const m = config.mqtt;
  if (m.brokerUrl === '') {
    const free = await portFree(m.embedded.host, m.embedded.port);
    return free
      ? { check: 'broker', status: 'OK', summary: `no broker configured: the embedded broker will listen on ${m.embedded.host}:${m.embedded.port}` }
      : {
          check: 'broker',
          status: 'WARN',
          summary: `no broker configured, and ${m.embedded.host}:${m.embedded.port} is in use (a running dermstream's embedded broker? otherwise the embedded broker falls back to a free port)`,
          fix: 'set mqtt.brokerUrl to the hospital broker, or mqtt.embedded.port to a free port',
        };
  }
  const { connectAsync } = await import('mqtt');
  const topic = doctorProbeTopic(m.topicPrefix, config.deviceId);
  const clientId = `dermstream-${config.deviceId}-doctor-${randomBytes(3).toString('hex')}`;
  const t0 = performance.now();
  let built;
  try {
    // The same builder as `run` and `bridge`: what doctor checks is what the service will use.
    built = buildMqttConnect({ brokerUrl: m.brokerUrl, username: m.username, password: m.password, tls: mqttTlsSettings(m.tls), clientId, keepaliveS: 10, connectTimeoutMs: timeoutMs, reconnectPeriodMs: 0, protocolVersion: 4 });
  } catch (err) {
    return { check: 'broker', status: 'FAIL', summary: (err as Error).message, fix: err instanceof MqttSettingsError ? `fix ${err.key}` : 'check the mqtt settings' };
  }
  const url = built.url;
  try {
    const client = await connectAsync(url, built.options);
    try {
      const connectedMs = performance.now() - t0;
      await withTimeout(client.publishAsync(topic, JSON.stringify({ type: 'doctor-probe', deviceId: config.deviceId, at: new Date().toISOString() }), { qos: 1, retain: false }), timeoutMs, 'publish not acknowledged');
      const ackMs = performance.now() - t0 - connectedMs;
      return {
        check: 'broker',
        status: built.warnings.length ? 'WARN' : 'OK',
        ...(built.warnings.length ? { details: built.warnings, fix: 'give the CA in mqtt.tls.ca and remove mqtt.tls.rejectUnauthorized / allowInsecureTls' } : {}),
        summary: `${url}: connected in ${connectedMs.toFixed(0)} ms, probe on ${topic} (QoS 1, not retained) acknowledged in ${ackMs.toFixed(0)} ms`,
      };
    } finally {
      await client.endAsync(true).catch(() => undefined);
    }
  } catch (err) {
    const msg = (err as Error).message;
    const fix = /not authorized|bad user ?name or password|Connection refused: Not authorized/i.test(msg)
      ? 'check mqtt.username and the password file (mqtt.passwordFile); the broker refused them'
      : /certificate|self.signed|unable to verify/i.test(msg)
        ? 'check mqtt.tls.ca (the CA that signed the broker certificate) and that the URL host matches the certificate (or mqtt.tls.servername)'
        : 'check mqtt.brokerUrl, that the broker runs, and that the firewall lets this device reach its port';
    return { check: 'broker', status: 'FAIL', summary: `${url}: ${msg}`, fix };
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

// ---- disk ------------------------------------------------------------------------------------------

export function checkDisk(stateDir: string, outboxMaxBytes: number): DoctorResult {
  let dir = path.resolve(stateDir);
  while (!existsSync(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  const st = statfsSync(dir);
  const free = Number(st.bavail) * Number(st.bsize);
  const need = outboxMaxBytes + 100 * 1048576;
  const mib = (n: number) => `${(n / 1048576).toFixed(0)} MiB`;
  const summary = `${stateDir}${dir !== path.resolve(stateDir) ? ` (not created yet; on ${dir})` : ''}: ${mib(free)} free, outbox may use ${mib(outboxMaxBytes)}`;
  if (free < need) return { check: 'disk', status: 'FAIL', summary, fix: `free space on that file system or lower outbox.maxBytes below ${mib(Math.max(0, free - 100 * 1048576))}` };
  if (free < 2 * need) return { check: 'disk', status: 'WARN', summary, fix: 'less than twice what the outbox and logs may need: watch it' };
  return { check: 'disk', status: 'OK', summary };
}

// ---- systemd notify --------------------------------------------------------------------------------

async function checkNotify(exec: NonNullable<DoctorOptions['exec']>, timeoutMs: number): Promise<DoctorResult> {
  const py = await exec('python3', ['-c', 'import socket; socket.AF_UNIX'], timeoutMs);
  if (!py.missing && py.code === 0) return { check: 'notify', status: 'OK', summary: 'sd_notify relay: python3 present (READY/WATCHDOG reach systemd with NotifyAccess=all)' };
  const sn = await exec('systemd-notify', ['--help'], timeoutMs);
  if (!sn.missing) return { check: 'notify', status: 'WARN', summary: 'python3 missing: sd_notify falls back to one systemd-notify process per message', fix: 'sudo apt-get install python3-minimal' };
  return { check: 'notify', status: 'FAIL', summary: 'neither python3 nor systemd-notify: the systemd watchdog would kill the service', fix: 'sudo apt-get install python3-minimal' };
}
