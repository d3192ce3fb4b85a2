/**
 * Issue 10 items 11 and 12 against a real Mosquitto with certificates made by openssl here:
 * - item 11: a client certificate whose key is encrypted; the configuration → runOptionsFrom → publisher path
 *   (what `run` does) must carry mqtt.tls.keyPassphraseFile through (it was dropped, so doctor said OK and run failed);
 * - item 12: a broker certificate for another name is refused by default; `rejectUnauthorized: false` is a
 *   configuration error unless `allowInsecureTls: true`, and then the device says so at start and in its status.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPublisher, type Publisher } from '../../src/publish/index.js';
import { loadConfig } from '../../src/service/config/load.js';
import { runOptionsFrom } from '../../src/service/config/run_options.js';
import { checkBroker } from '../../src/service/doctor.js';
import { MODEL, makeEvent } from './helpers/fixtures.js';
import { collect, until } from './helpers/mqtt_collector.js';
import { mosquittoAvailable, mosquittoSkipReason, startMosquitto, type Mosquitto } from './helpers/mosquitto.js';
import { makePki, opensslAvailable, opensslSkipReason, type TestPki } from './helpers/pki.js';

if (!mosquittoAvailable) console.warn(mosquittoSkipReason);
if (!opensslAvailable) console.warn(opensslSkipReason);

describe.skipIf(!mosquittoAvailable || !opensslAvailable)('TLS settings reach the connection', () => {
  let pki: TestPki;
  let dir: string;
  let broker: Mosquitto | undefined;
  let pub: Publisher | undefined;
  beforeAll(async () => {
    pki = await makePki();
    dir = await mkdtemp(join(tmpdir(), 'tlsset-'));
  });
  afterEach(async () => {
    await pub?.close({ timeoutMs: 500 });
    await broker?.dispose();
    pub = broker = undefined;
  });
  afterAll(async () => {
    await pki?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  const configWith = async (name: string, yaml: string) => {
    const file = join(dir, `${name}.yaml`);
    await writeFile(file, yaml);
    return loadConfig({ configPath: file, env: {}, defaultConfigPath: join(dir, 'absent.yaml'), defaultStateDir: join(dir, `state-${name}`), hostname: name, cwd: dir });
  };
  const publisherFrom = async (config: ReturnType<typeof loadConfig>['config'], logger?: Parameters<typeof createPublisher>[0]['logger']) => {
    const o = runOptionsFrom(config);
    return createPublisher({ ...o.publisher, reconnectPeriodMs: 200, brokerUrl: config.mqtt.brokerUrl, deviceId: config.deviceId, stateDir: config.outbox.stateDir, model: MODEL, logger });
  };

  it('item 11: an encrypted client key works through config → run options (the passphrase is not dropped), as doctor says', async () => {
    broker = await startMosquitto({ tls: { caFile: pki.ca, certFile: pki.server.cert, keyFile: pki.server.key }, requireCertificate: true });
    const { config } = await configWith(
      'enc-key',
      [`mqtt:`, `  brokerUrl: ${broker.url}`, `  tls:`, `    ca: ${pki.ca}`, `    cert: ${pki.client.cert}`, `    key: ${pki.client.key}`, `    keyPassphraseFile: ${pki.client.passphraseFile}`, ''].join('\n'),
    );
    const doctor = await checkBroker(config, 5000);
    expect(doctor.status).toBe('OK');
    const sub = await collect(broker.url, 'dermstream/enc-key/lesion', { ca: (await import('node:fs')).readFileSync(pki.ca), cert: (await import('node:fs')).readFileSync(pki.client.cert), key: (await import('node:fs')).readFileSync(pki.client.key), passphrase: pki.client.passphrase } as object);
    pub = await publisherFrom(config);
    await until(() => pub!.isConnected(), 5000, 'the TLS connect with the encrypted key');
    pub.publishEvent(makeEvent({ seq: 0 }));
    await until(() => sub.messages.length === 1, 5000, 'the lesion message');
    await sub.close();
  });

  it('item 12: a mismatched broker certificate is refused; rejectUnauthorized false needs allowInsecureTls and is then announced', async () => {
    broker = await startMosquitto({ tls: { caFile: pki.ca, certFile: pki.mismatched.cert, keyFile: pki.mismatched.key } });
    // Default: verified, so the certificate for broker.elsewhere.example is refused for 127.0.0.1.
    const { config: strict } = await configWith('strict', [`mqtt:`, `  brokerUrl: ${broker.url}`, `  tls:`, `    ca: ${pki.ca}`, ''].join('\n'));
    const errors: string[] = [];
    pub = await publisherFrom(strict);
    const s = pub.connection$.subscribe((c) => c.error && errors.push(c.error));
    await until(() => errors.length > 0, 5000, 'the certificate error');
    expect(errors[0]).toMatch(/altnames|does not match|Hostname/i);
    expect(pub.isConnected()).toBe(false);
    s.unsubscribe();
    await pub.close({ timeoutMs: 200 });
    pub = undefined;

    // rejectUnauthorized: false alone is a configuration error naming the key and the way out.
    let err: unknown;
    try {
      await configWith('lax', [`mqtt:`, `  brokerUrl: ${broker.url}`, `  tls:`, `    rejectUnauthorized: false`, ''].join('\n'));
    } catch (e) {
      err = e;
    }
    expect(String((err as Error).message)).toMatch(/mqtt\.tls\.rejectUnauthorized/);
    expect(String((err as Error).message)).toMatch(/allowInsecureTls/);

    // With the explicit consent it connects, warns in the log and in the retained status.
    const { config: insecure } = await configWith('insecure', [`mqtt:`, `  brokerUrl: ${broker.url}`, `  tls:`, `    rejectUnauthorized: false`, `    allowInsecureTls: true`, ''].join('\n'));
    const warns: string[] = [];
    const logger = { info() {}, error() {}, warn: (_o: object, msg?: string) => warns.push(msg ?? '') };
    const status = await collect(broker.url, 'dermstream/insecure/status', { rejectUnauthorized: false });
    pub = await publisherFrom(insecure, logger);
    await until(() => pub!.isConnected(), 5000, 'the insecure connect');
    expect(warns.join('\n')).toMatch(/NOT verified/);
    await until(() => status.messages.some((m) => Array.isArray(m.json?.warnings)), 5000, 'the status warning');
    expect(status.messages.find((m) => m.json?.warnings)!.json.warnings.join(' ')).toMatch(/NOT verified/);
    await status.close();
  });
});
