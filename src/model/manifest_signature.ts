/**
 * Ed25519 signatures over a model's manifest.json, with node:crypto (no dependency).
 *
 * Why: the manifest's hashes only prove that the files match the manifest. Anyone who can write the model folder
 * can rehash the manifest (or drop its `files` list) and random weights would load while every message claimed the
 * genuine model. A signature by a key the device trusts closes that: the manifest is signed as bytes, and the loader
 * (weights_io.ts) checks the files against the signed manifest, the architecture against model.json, and reports the
 * hash of the bytes it actually loaded.
 *
 * Format: `manifest.sig` beside manifest.json, JSON `{ format, algorithm: "Ed25519", keyId, signature, signedAt }`;
 * `signature` is base64 of Ed25519(manifest.json bytes, exactly as on disk); `keyId` is the first 16 hex digits of
 * the SHA-256 of the public key (SPKI DER), to say which key signed without shipping it. Any edit of manifest.json,
 * even whitespace, needs a new signature (`dermstream sign`).
 */
import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const SIGNATURE_FILE = 'manifest.sig';
export const SIGNATURE_FORMAT = 'dermstream-manifest-signature/1';

export interface ManifestSignature {
  format: typeof SIGNATURE_FORMAT;
  algorithm: 'Ed25519';
  keyId: string;
  signature: string;
  signedAt: string;
}

export type SignatureCheck =
  | { status: 'verified'; keyId: string }
  | { status: 'unsigned' }
  /** Signed, but by a key not in the trusted list (nothing can be said about it). */
  | { status: 'untrusted'; keyId: string }
  /** Signed by a trusted key, and the manifest was changed afterwards (or the signature was forged). */
  | { status: 'invalid'; keyId: string };

export class SigningKeyError extends Error {}

/** First 16 hex digits of SHA-256(SPKI DER). */
export function keyIdOf(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

function isPem(s: string): boolean {
  return /-----BEGIN [A-Z ]+-----/.test(s);
}

/** A trusted key given as PEM text or as the path of a PEM file; must be an Ed25519 public key. */
export function parseTrustedKey(entry: string): KeyObject {
  let pem = entry;
  if (!isPem(entry)) {
    try {
      pem = readFileSync(entry, 'utf8');
    } catch (err) {
      throw new SigningKeyError(`trusted key ${entry}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw new SigningKeyError(`trusted key ${isPem(entry) ? '(inline PEM)' : entry}: not a PEM public key (${(err as Error).message})`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new SigningKeyError(`trusted key ${isPem(entry) ? '(inline PEM)' : entry}: an ${key.asymmetricKeyType} key; model signatures use Ed25519`);
  return key;
}

export function readPrivateKey(file: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new SigningKeyError(`signing key ${file}: not a readable PEM private key (${(err as Error).message})`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new SigningKeyError(`signing key ${file}: an ${key.asymmetricKeyType} key; use Ed25519 (openssl genpkey -algorithm ed25519)`);
  return key;
}

/** Signs `manifestBytes`; pure apart from the clock. */
export function signManifestBytes(manifestBytes: Uint8Array, key: KeyObject, now: Date = new Date()): ManifestSignature {
  return { format: SIGNATURE_FORMAT, algorithm: 'Ed25519', keyId: keyIdOf(key), signature: sign(null, manifestBytes, key).toString('base64'), signedAt: now.toISOString() };
}

/** Checks a signature of `manifestBytes` against the trusted keys. */
export function checkManifestSignature(manifestBytes: Uint8Array, sig: ManifestSignature | null, trusted: readonly KeyObject[]): SignatureCheck {
  if (!sig) return { status: 'unsigned' };
  const key = trusted.find((k) => keyIdOf(k) === sig.keyId);
  if (!key) return { status: 'untrusted', keyId: sig.keyId };
  const ok = sig.algorithm === 'Ed25519' && verify(null, manifestBytes, key, Buffer.from(sig.signature, 'base64'));
  return ok ? { status: 'verified', keyId: sig.keyId } : { status: 'invalid', keyId: sig.keyId };
}

/** The signature file of a model folder, or null when there is none; throws on a malformed one. */
export function readManifestSignature(dir: string): ManifestSignature | null {
  const p = join(dir, SIGNATURE_FILE);
  if (!existsSync(p)) return null;
  const sig = JSON.parse(readFileSync(p, 'utf8')) as ManifestSignature;
  if (sig.format !== SIGNATURE_FORMAT || typeof sig.signature !== 'string' || typeof sig.keyId !== 'string') throw new Error(`${p} is not a ${SIGNATURE_FORMAT} file`);
  return sig;
}

export function writeManifestSignature(dir: string, sig: ManifestSignature): string {
  const p = join(dir, SIGNATURE_FILE);
  const tmp = `${p}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(sig, null, 2)}\n`);
  renameSync(tmp, p);
  return p;
}
