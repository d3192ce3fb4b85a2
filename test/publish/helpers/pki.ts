/**
 * A throw-away PKI made with openssl for broker tests: a CA, a server certificate for 127.0.0.1, a server
 * certificate for another name (the "mismatched certificate" of issue 10 item 12), and a client certificate whose
 * key is encrypted with a passphrase (item 11). `opensslAvailable` lets a suite skip with a clear message.
 */
import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const opensslAvailable = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
export const opensslSkipReason = 'openssl not found (apt-get install openssl): TLS tests skipped';

export interface TestPki {
  dir: string;
  ca: string;
  /** Names IP:127.0.0.1. */
  server: { cert: string; key: string };
  /** Signed by the same CA but for DNS:broker.elsewhere.example only: wrong for 127.0.0.1. */
  mismatched: { cert: string; key: string };
  /** Client certificate (CN=derm); its key is AES-256 encrypted with `passphrase`. */
  client: { cert: string; key: string; passphrase: string; passphraseFile: string };
  dispose(): Promise<void>;
}

export async function makePki(): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), 'pki-'));
  await chmod(dir, 0o755);
  const o = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  o('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=dermstream test CA');
  const sign = async (name: string, subj: string, san: string | null) => {
    o('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subj);
    const ext = [san ? `subjectAltName=${san}` : 'extendedKeyUsage=clientAuth'].join('\n');
    await writeFile(join(dir, `${name}.ext`), `${ext}\n`);
    o('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '1', '-extfile', `${name}.ext`);
  };
  await sign('server', '/CN=127.0.0.1', 'IP:127.0.0.1');
  await sign('other', '/CN=broker.elsewhere.example', 'DNS:broker.elsewhere.example');
  await sign('client', '/CN=derm', null);
  const passphrase = 'key-pass-7f3a';
  o('pkey', '-in', 'client.key', '-out', 'client-enc.key', '-aes256', '-passout', `pass:${passphrase}`);
  await writeFile(join(dir, 'client-pass.txt'), `${passphrase}\n`);
  for (const f of ['ca.crt', 'server.crt', 'server.key', 'other.crt', 'other.key', 'client.crt', 'client-enc.key']) await chmod(join(dir, f), 0o644);
  return {
    dir,
    ca: join(dir, 'ca.crt'),
    server: { cert: join(dir, 'server.crt'), key: join(dir, 'server.key') },
    mismatched: { cert: join(dir, 'other.crt'), key: join(dir, 'other.key') },
    client: { cert: join(dir, 'client.crt'), key: join(dir, 'client-enc.key'), passphrase, passphraseFile: join(dir, 'client-pass.txt') },
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}
