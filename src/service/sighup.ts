/**
 * SIGHUP (`systemctl reload`, `kill -HUP`): Node's default is to die with no log line (rc 129), which took the
 * device down. A live reload of capture, model and broker would mean tearing all three down mid-examination, so it is
 * not offered: SIGHUP re-reads and validates the configuration and logs whether it is valid and which keys a restart
 * would change (`systemctl restart dermstream` applies them). The running service is untouched either way.
 */
import type { Logger } from '../types/logger.js';
import { changedKeys } from './config/changed_keys.js';
import { SECRET_KEYS } from './config/schema.js';

export interface SighupOptions {
  /** Loads the configuration as at start (same flags and environment); throws a ConfigError when invalid. */
  reload(): unknown;
  /** The configuration running now. */
  current: unknown;
  logger: Logger;
}

/** Installs the handler; returns a function that removes it. */
export function handleSighup(opts: SighupOptions): () => void {
  const onHup = () => {
    let next: unknown;
    try {
      next = opts.reload();
    } catch (err) {
      opts.logger.error({ signal: 'SIGHUP' }, `SIGHUP: the configuration on disk is NOT valid; the service keeps running with the one it started with. A restart would fail: ${(err as Error).message}`);
      return;
    }
    const changed = changedKeys(opts.current, next).map((k) => (SECRET_KEYS.has(k) ? `${k} (secret)` : k));
    opts.logger.info(
      { signal: 'SIGHUP', changed },
      changed.length
        ? `SIGHUP: configuration valid; ${changed.length} key(s) differ from the running one (${changed.join(', ')}); not applied live: systemctl restart dermstream applies them`
        : 'SIGHUP: configuration valid and unchanged; nothing to do (the running service is not restarted by SIGHUP)',
    );
  };
  process.on('SIGHUP', onHup);
  return () => process.off('SIGHUP', onHup);
}
