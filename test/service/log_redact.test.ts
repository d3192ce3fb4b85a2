/** pino `redact` (issue 10 item 10): no secret reaches a log line, whatever object it is in. */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/service/logging.js';

describe('log redaction', () => {
  it('censors passwords, passphrases and tokens at every depth we log, in JSON and pretty output', () => {
    for (const pretty of [false, true]) {
      let out = '';
      const destination = new Writable({
        write(chunk, _enc, done) {
          out += chunk.toString();
          done();
        },
      });
      const log = createLogger('debug', { pretty, destination });
      log.info({ password: 'pw-top' }, 'a');
      log.info({ mqtt: { password: 'pw-1', tls: { keyPassphrase: 'kp-2' } } }, 'b');
      log.info({ config: { mqtt: { tls: { keyPassphrase: 'kp-3', passphrase: 'kp-3b' } } } }, 'c');
      log.info({ options: { username: 'derm', password: 'pw-4' }, fhir: { token: 'tok-5' }, headers: { authorization: 'Bearer tok-6' } }, 'd');
      for (const secret of ['pw-top', 'pw-1', 'kp-2', 'kp-3', 'kp-3b', 'pw-4', 'tok-5', 'tok-6']) expect(out).not.toContain(secret);
      expect(out).toContain('derm'); // not everything is censored
      expect(out).toContain('***');
    }
  });
});
