/** mqtts:// with a private CA (CA file given to the publisher) and username/password, against Mosquitto. */
import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPublisher } from '../../src/publish/index.js';
import { MODEL, makeEvent } from './helpers/fixtures.js';
import { collect, until } from './helpers/mqtt_collector.js';
import { mosquittoAvailable, mosquittoSkipReason, startMosquitto, type Mosquitto } from './helpers/mosquitto.js';

let opensslOk = true;
try {
  execFileSync('openssl', ['version'], { stdio: 'ignore' });
} catch {
  opensslOk = false;
}
if (!mosquittoAvailable) console.warn(mosquittoSkipReason);
if (!opensslOk) console.warn('openssl not found: TLS test skipped');

describe.skipIf(!mosquittoAvailable || !opensslOk)('publisher over TLS with a password', () => {
  let dir: string;
  let broker: Mosquitto;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tls-'));
    await chmod(dir, 0o755);
    const o = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    o('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=dermstream test CA');
    o('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
    await writeFile(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
    o('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '1', '-extfile', 'san.ext');
    for (const f of ['ca.crt', 'server.crt', 'server.key']) await chmod(join(dir, f), 0o644);
    broker = await startMosquitto({
      tls: { caFile: join(dir, 'ca.crt'), certFile: join(dir, 'server.crt'), keyFile: join(dir, 'server.key') },
      users: { derm: 's3cret', display: 'd1splay' },
    });
  });
  afterAll(async () => {
    await broker?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('connects with the CA file and credentials, and a subscriber gets the lesion message', async () => {
    expect(broker.url).toMatch(/^mqtts:/);
    const sub = await collect(broker.url, 'dermstream/+/lesion', { ca: await import('node:fs').then((fs) => fs.readFileSync(join(dir, 'ca.crt'))), username: 'display', password: 'd1splay' });
    const stateDir = await mkdtemp(join(tmpdir(), 'tlspub-'));
    const pub = await createPublisher({
      brokerUrl: broker.url,
      deviceId: 'tls-1',
      stateDir,
      model: MODEL,
      username: 'derm',
      password: 's3cret',
      tls: { caFile: join(dir, 'ca.crt') },
      reconnectPeriodMs: 100,
    });
    try {
      await until(() => pub.isConnected(), 5000, 'TLS connect');
      pub.publishEvent(makeEvent({ seq: 0 }));
      await sub.waitFor((m) => m.length >= 1, 5000, 'lesion over TLS');
      expect(sub.messages[0].json.deviceId).toBe('tls-1');
    } finally {
      await pub.close({ timeoutMs: 500 });
      await sub.close();
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it('does not connect with a wrong password, and keeps the message in the outbox', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'tlspub-'));
    const errors: string[] = [];
    const pub = await createPublisher({ brokerUrl: broker.url, deviceId: 'tls-2', stateDir, model: MODEL, username: 'derm', password: 'wrong', tls: { caFile: join(dir, 'ca.crt') }, reconnectPeriodMs: 100 });
    const s = pub.connection$.subscribe((c) => c.error && errors.push(c.error));
    try {
      pub.publishEvent(makeEvent({ seq: 0 }));
      await until(() => errors.length > 0, 5000, 'a refusal');
      expect(errors.join(' ')).toMatch(/Not authorized|Bad User Name or Password/i);
      expect(pub.isConnected()).toBe(false);
      expect(pub.stats().outbox.depth).toBe(1);
    } finally {
      s.unsubscribe();
      await pub.close({ timeoutMs: 200 });
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});
