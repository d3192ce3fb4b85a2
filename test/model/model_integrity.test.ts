/**
 * Issue 10 item 9, reproduced: random weights with a rehashed manifest (or without its `files` list) loaded and were
 * reported under the genuine model's sha256. Now: a trusted signature refuses the rehashed manifest, the reported
 * hash is the hash of the bytes loaded, a manifest that lists nothing vouches for nothing, and an architecture that
 * disagrees with model.json is refused. Also: the shipped models/default verifies with the development key.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../src/model/backend.js';
import { signManifestBytes, writeManifestSignature } from '../../src/model/manifest_signature.js';
import { LesionNet } from '../../src/model/network.js';
import { loadModel, saveModel } from '../../src/model/weights_io.js';
import { TINY_CONFIG } from './helpers.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const ROOT = resolve(import.meta.dirname, '../..');

describe('model integrity', () => {
  const root = mkdtempSync(join(tmpdir(), 'dermstream-integrity-'));
  const genuine = join(root, 'genuine');
  const keys = generateKeyPairSync('ed25519');
  const trusted = [keys.publicKey.export({ type: 'spki', format: 'pem' }) as string];
  let genuineSha: string;

  beforeAll(async () => {
    await selectBackend('wasm');
    const net = new LesionNet(TINY_CONFIG).declare();
    genuineSha = (await saveModel(net, genuine, { version: '1.0.0' })).weightsSha256;
    net.dispose();
    writeManifestSignature(genuine, signManifestBytes(readFileSync(join(genuine, 'manifest.json')), keys.privateKey));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  /** The attack: other weights of the same size, the manifest rehashed to match. */
  const rehashedCopy = (name: string) => {
    const d = join(root, name);
    cpSync(genuine, d, { recursive: true });
    const m = JSON.parse(readFileSync(join(d, 'manifest.json'), 'utf8'));
    const shard = m.files.find((f: { path: string }) => f.path.endsWith('.bin'));
    const random = Buffer.alloc(shard.bytes);
    for (let i = 0; i < random.length; i += 4) random.writeFloatLE((Math.sin(i) * 0.05), i);
    writeFileSync(join(d, shard.path), random);
    shard.sha256 = sha(random);
    m.weightsSha256 = sha(random);
    writeFileSync(join(d, 'manifest.json'), JSON.stringify(m, null, 2));
    return { dir: d, randomSha: sha(random) };
  };

  it('the genuine model loads, verified, reporting the hash of what it loaded', () => {
    const { net, integrity } = loadModel(genuine, { trustedKeys: trusted, requireSignature: true });
    expect(integrity.signature.status).toBe('verified');
    expect(integrity.weightsSha256).toBe(genuineSha);
    net.dispose();
  });

  it('a rehashed manifest over random weights is refused when the signing key is trusted', () => {
    const { dir } = rehashedCopy('rehashed');
    expect(() => loadModel(dir, { trustedKeys: trusted })).toThrow(/does not match its signature .*changed after signing/);
  });

  it('without trust it may load, but never under the genuine hash', () => {
    const { dir, randomSha } = rehashedCopy('rehashed-untrusted');
    rmSync(join(dir, 'manifest.sig'));
    expect(() => loadModel(dir, { trustedKeys: trusted, requireSignature: true })).toThrow(/is not signed and model\.requireSignature is on/);
    const { net, integrity } = loadModel(dir);
    expect(integrity.signature.status).toBe('unsigned');
    expect(integrity.weightsSha256).toBe(randomSha);
    expect(integrity.weightsSha256).not.toBe(genuineSha);
    net.dispose();
  });

  it('a manifest without its files list vouches for nothing and is refused', () => {
    const d = join(root, 'nofiles');
    cpSync(genuine, d, { recursive: true });
    rmSync(join(d, 'manifest.sig'));
    const m = JSON.parse(readFileSync(join(d, 'manifest.json'), 'utf8'));
    delete m.files;
    writeFileSync(join(d, 'manifest.json'), JSON.stringify(m));
    expect(() => loadModel(d)).toThrow(/does not list model\.json, so nothing vouches for it/);
  });

  it('a manifest whose architecture disagrees with model.json is refused', () => {
    const d = join(root, 'arch');
    cpSync(genuine, d, { recursive: true });
    rmSync(join(d, 'manifest.sig'));
    const m = JSON.parse(readFileSync(join(d, 'manifest.json'), 'utf8'));
    m.architecture = { ...m.architecture, fpnChannels: m.architecture.fpnChannels * 2 };
    writeFileSync(join(d, 'manifest.json'), JSON.stringify(m));
    expect(() => loadModel(d)).toThrow(/architecture in manifest\.json is not the one in model\.json/);
  });

  it('the shipped models/default is signed with the development key and verifies', () => {
    const { net, integrity, manifest } = loadModel(join(ROOT, 'models/default'), { trustedKeys: [join(ROOT, 'deploy/keys/dev-model-signing.pub')], requireSignature: true });
    expect(integrity.signature.status).toBe('verified');
    expect(integrity.weightsSha256).toBe(manifest.weightsSha256);
    net.dispose();
  });
});
