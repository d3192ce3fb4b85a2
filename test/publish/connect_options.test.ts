/** The one MQTT options builder (issue 10 items 10–12, 15): secrets, PEM checks, insecure TLS only on request. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildMqttConnect, MqttSettingsError, redactUrl } from '../../src/publish/connect_options.js';
import { pemProblem } from '../../src/publish/pem.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'connopts-'));
  await writeFile(join(dir, 'pw'), 'hunter2\n');
  await writeFile(join(dir, 'notes.txt'), 'remember to ask IT for the CA\n');
  await writeFile(join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  await writeFile(join(dir, 'key.pem'), '-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n');
  await writeFile(join(dir, 'pass'), 'key-pass\n');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('buildMqttConnect', () => {
  it('moves credentials out of the URL and never returns a URL with a password', () => {
    const c = buildMqttConnect({ brokerUrl: 'mqtts://derm:s%40cret@broker.local:8883' });
    expect(c.url).toBe('mqtts://broker.local:8883');
    expect(c.options.username).toBe('derm');
    expect(c.options.password).toBe('s@cret');
    expect(c.warnings.join()).toMatch(/credentials in the broker URL/);
    expect(redactUrl('mqtt://u:pw@h:1883')).not.toContain('pw');
  });

  it('reads the password file (first line) and the key passphrase file into the options', () => {
    const c = buildMqttConnect({ brokerUrl: 'mqtts://h', username: 'derm', passwordFile: join(dir, 'pw'), tls: { caFile: join(dir, 'ca.pem'), keyFile: join(dir, 'key.pem'), certFile: join(dir, 'ca.pem'), keyPassphraseFile: join(dir, 'pass') } });
    expect(c.options.password).toBe('hunter2');
    expect((c.options as { passphrase?: string }).passphrase).toBe('key-pass');
    expect((c.auth as { passphrase?: string }).passphrase).toBe('key-pass');
    expect(c.options.rejectUnauthorized).toBe(true);
    expect(c.insecureTls).toBe(false);
  });

  it('refuses rejectUnauthorized: false unless allowInsecureTls says it is meant, then warns', () => {
    expect(() => buildMqttConnect({ brokerUrl: 'mqtts://h', tls: { rejectUnauthorized: false } })).toThrow(/mqtt\.tls\.rejectUnauthorized: .*mqtt\.tls\.allowInsecureTls: true/);
    const c = buildMqttConnect({ brokerUrl: 'mqtts://h', tls: { rejectUnauthorized: false, allowInsecureTls: true } });
    expect(c.options.rejectUnauthorized).toBe(false);
    expect(c.insecureTls).toBe(true);
    expect(c.warnings.join()).toMatch(/NOT verified/);
  });

  it('refuses a text file as the CA, naming the key the caller uses', () => {
    let err: unknown;
    try {
      buildMqttConnect({ brokerUrl: 'mqtts://h', tls: { caFile: join(dir, 'notes.txt') }, keys: { caFile: '--mqtt-ca' } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MqttSettingsError);
    expect((err as MqttSettingsError).key).toBe('--mqtt-ca');
    expect((err as Error).message).toMatch(/not a PEM certificate/);
  });
});

describe('pemProblem', () => {
  it('tells certificates, keys and text apart', () => {
    expect(pemProblem('-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----', 'certificate')).toBeNull();
    expect(pemProblem('-----BEGIN EC PRIVATE KEY-----\nx\n-----END EC PRIVATE KEY-----', 'private key')).toBeNull();
    expect(pemProblem('-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----', 'certificate')).toMatch(/not a PEM certificate \(it holds a PEM "PRIVATE KEY" block\)/);
    expect(pemProblem('hello', 'certificate')).toMatch(/not a PEM certificate/);
  });
});
