/**
 * What a PEM file holds, judged from its armour lines: enough to refuse a text file given as a CA or a key at
 * `config --check` time with "not a PEM certificate", instead of an OpenSSL error at the first connect. Pure.
 */
export type PemKind = 'certificate' | 'private key';

const ARMOUR: Record<PemKind, RegExp> = {
  certificate: /-----BEGIN (?:TRUSTED )?CERTIFICATE-----[\s\S]+?-----END (?:TRUSTED )?CERTIFICATE-----/,
  'private key': /-----BEGIN (?:RSA |EC |ENCRYPTED |DSA )?PRIVATE KEY-----[\s\S]+?-----END (?:RSA |EC |ENCRYPTED |DSA )?PRIVATE KEY-----/,
};

/** null when `text` holds at least one PEM block of that kind; otherwise why not, for an error message. */
export function pemProblem(text: string, kind: PemKind): string | null {
  if (ARMOUR[kind].test(text)) return null;
  if (/-----BEGIN [A-Z ]+-----/.test(text)) return `not a PEM ${kind} (it holds a PEM "${/-----BEGIN ([A-Z ]+)-----/.exec(text)![1]}" block)`;
  return `not a PEM ${kind} (no "-----BEGIN ${kind === 'certificate' ? 'CERTIFICATE' : 'PRIVATE KEY'}-----" line)`;
}
