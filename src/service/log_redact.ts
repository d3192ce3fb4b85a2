/**
 * What pino's `redact` censors on every log line, whatever object is logged: the broker password, the TLS key
 * passphrase and bearer tokens, at any depth we log objects at (pino's paths have no `**`, so depths are listed;
 * measured: our deepest logged secret-bearing object is `{ config: { mqtt: { tls: { keyPassphrase } } } }`, depth 4).
 * URLs are logged without their password (connect_options.ts `redactUrl` / the builder's `url`), since a string
 * field cannot be redacted in part.
 */
const SECRET_FIELDS = ['password', 'keyPassphrase', 'passphrase', 'token', 'authorization'];
const PREFIXES = ['', '*.', '*.*.', '*.*.*.', '*.*.*.*.'];

export const REDACT_PATHS: readonly string[] = PREFIXES.flatMap((p) => SECRET_FIELDS.map((f) => `${p}${f}`));
export const REDACT_CENSOR = '***';
