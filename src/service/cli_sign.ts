/**
 * `dermstream sign`: signs a model folder's manifest.json with an Ed25519 key (writes manifest.sig beside it), and
 * `--new-key` makes such a key pair. Signing checks the folder first (every file against the manifest, the manifest
 * covers every file, the architecture is model.json's) so a broken model is never vouched for. Re-signing after the
 * manifest changed is the same command.
 */
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { selectBackend } from '../model/backend.js';
import { checkManifestSignature, parseTrustedKey, readPrivateKey, signManifestBytes, writeManifestSignature, keyIdOf } from '../model/manifest_signature.js';
import { loadModel } from '../model/weights_io.js';

export function registerSign(program: Command): void {
  program
    .command('sign')
    .description('sign a model folder (manifest.json → manifest.sig, Ed25519), or make a signing key pair with --new-key')
    .option('--model <dir>', 'model folder to sign')
    .option('--key <file>', 'Ed25519 private key (PEM) to sign with')
    .option('--new-key <file>', 'write a new Ed25519 private key here (mode 0600) and its public half to <file>.pub, then exit')
    .action(async (o: { model?: string; key?: string; newKey?: string }) => {
      if (o.newKey) {
        if (existsSync(o.newKey)) throw new Error(`${o.newKey} exists: refusing to overwrite a signing key`);
        const { privateKey, publicKey } = generateKeyPairSync('ed25519');
        writeFileSync(o.newKey, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
        writeFileSync(`${o.newKey}.pub`, publicKey.export({ type: 'spki', format: 'pem' }));
        console.log(`key ${keyIdOf(publicKey)}: private ${o.newKey} (keep it off the devices), public ${o.newKey}.pub (list it in model.trustedKeys)`);
        return;
      }
      if (!o.model || !o.key) throw new Error('sign needs --model <dir> and --key <private key> (or --new-key <file>)');
      const key = readPrivateKey(o.key);
      // Decoding the weights needs a backend; cpu is always there and this is a one-off.
      await selectBackend('cpu');
      const { net, manifest } = loadModel(o.model);
      net.dispose();
      const bytes = readFileSync(`${o.model}/manifest.json`);
      const sig = signManifestBytes(bytes, key);
      // Verify with the public half as a device would, before writing.
      const publicPem = createPublicKey(key).export({ type: 'spki', format: 'pem' }) as string;
      const check = checkManifestSignature(bytes, sig, [parseTrustedKey(publicPem)]);
      if (check.status !== 'verified') throw new Error(`signature does not verify (${check.status}): not written`);
      const file = writeManifestSignature(o.model, sig);
      console.log(`signed ${manifest.name} ${manifest.version} (weights ${manifest.weightsSha256.slice(0, 12)}…) with key ${sig.keyId}: ${file}`);
    });
}
