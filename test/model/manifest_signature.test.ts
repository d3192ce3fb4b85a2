/** Ed25519 signatures of manifest.json (issue 10 item 9): what verifies, what does not, and which keys are accepted. */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkManifestSignature, keyIdOf, parseTrustedKey, signManifestBytes, SigningKeyError } from '../../src/model/manifest_signature.js';

const pair = () => generateKeyPairSync('ed25519');
const pem = (k: ReturnType<typeof pair>['publicKey']) => k.export({ type: 'spki', format: 'pem' }) as string;

describe('manifest signature', () => {
  const bytes = Buffer.from('{"name":"m","version":"1.0.0"}');
  it('verifies with the trusted public key, and names the key', () => {
    const k = pair();
    const sig = signManifestBytes(bytes, k.privateKey);
    expect(sig.keyId).toBe(keyIdOf(k.publicKey));
    expect(checkManifestSignature(bytes, sig, [parseTrustedKey(pem(k.publicKey))])).toEqual({ status: 'verified', keyId: sig.keyId });
  });
  it('one changed byte of the manifest is invalid; another key is untrusted; no signature is unsigned', () => {
    const k = pair();
    const sig = signManifestBytes(bytes, k.privateKey);
    const changed = Buffer.from(bytes.toString().replace('1.0.0', '1.0.1'));
    expect(checkManifestSignature(changed, sig, [k.publicKey]).status).toBe('invalid');
    expect(checkManifestSignature(bytes, sig, [pair().publicKey]).status).toBe('untrusted');
    expect(checkManifestSignature(bytes, null, [k.publicKey]).status).toBe('unsigned');
    // A forged signature under the trusted key's id.
    const forged = { ...signManifestBytes(bytes, pair().privateKey), keyId: sig.keyId };
    expect(checkManifestSignature(bytes, forged, [k.publicKey]).status).toBe('invalid');
  });
  it('accepts only Ed25519 public keys as trusted keys', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
    expect(() => parseTrustedKey(rsa)).toThrow(/an rsa key; model signatures use Ed25519/);
    expect(() => parseTrustedKey('/nonexistent/key.pub')).toThrow(SigningKeyError);
    expect(() => parseTrustedKey('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n')).toThrow(/not a PEM public key/);
  });
});
