/** `dermstream sign` (issue 10 item 9): key pair, signing, and re-signing after a manifest edit is one command. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { selectBackend } from '../../src/model/backend.js';
import { LesionNet } from '../../src/model/network.js';
import { loadModel, saveModel } from '../../src/model/weights_io.js';
import { registerSign } from '../../src/service/cli_sign.js';
import { TINY_CONFIG } from '../model/helpers.js';

const sign = async (...args: string[]) => {
  const program = new Command().exitOverride();
  registerSign(program);
  await program.parseAsync(['node', 'dermstream', 'sign', ...args]);
};

describe('dermstream sign', () => {
  const root = mkdtempSync(join(tmpdir(), 'dermstream-sign-'));
  const model = join(root, 'model');
  const key = join(root, 'signing.key');
  beforeAll(async () => {
    await selectBackend('wasm');
    const net = new LesionNet(TINY_CONFIG).declare();
    await saveModel(net, model, { version: '1.0.0' });
    net.dispose();
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('makes a key pair, signs, and re-signs after the manifest is edited', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      await sign('--new-key', key);
      await expect(sign('--new-key', key)).rejects.toThrow(/exists: refusing to overwrite/);
      const trust = { trustedKeys: [`${key}.pub`], requireSignature: true };
      expect(() => loadModel(model, trust)).toThrow(/not signed/);
      await sign('--model', model, '--key', key);
      expect(loadModel(model, trust).integrity.signature.status).toBe('verified');

      // Another branch adds a field to the manifest: the old signature no longer holds...
      const m = JSON.parse(readFileSync(join(model, 'manifest.json'), 'utf8'));
      writeFileSync(join(model, 'manifest.json'), JSON.stringify({ ...m, operatingPoint: { malignantThreshold: 0.15 } }, null, 2));
      expect(() => loadModel(model, trust)).toThrow(/does not match its signature/);
      // ...and one command signs it again.
      await sign('--model', model, '--key', key);
      expect(loadModel(model, trust).integrity.signature.status).toBe('verified');
      expect(log.mock.calls.map((c) => String(c[0])).join('\n')).toMatch(/signed .* with key [0-9a-f]{16}/);
    } finally {
      log.mockRestore();
    }
  });

  it('refuses to sign a folder that fails its own hashes', async () => {
    const bad = join(root, 'bad');
    const net = new LesionNet(TINY_CONFIG).declare();
    await saveModel(net, bad, { version: '1.0.0' });
    net.dispose();
    const shard = join(bad, 'group1-shard1of1.bin');
    const b = readFileSync(shard);
    b[0] = b[0]! ^ 0xff;
    writeFileSync(shard, b);
    await expect(sign('--model', bad, '--key', key)).rejects.toThrow(/fails its SHA-256 check/);
  });
});
