/**
 * Browser side (also importable in Node for tests): which broker, topic prefix and device the page shows.
 *
 * Sources, first wins: the page's query (`?broker=ws://host:9001/&prefix=dermstream&device=derm-01&stale=3`), then
 * `/config.json` served by the display server, then defaults (`ws://<page host>:9001/`, `dermstream`, the first device
 * that reports a status). A served broker URL on a loopback or wildcard address (`127.0.0.1`, `localhost`, `0.0.0.0`,
 * `::`) is what the device sees of itself; when the page is opened from another machine it is rewritten to the page's
 * own host name, so one config works on the bedside screen and on a desktop.
 */

export interface ServedConfig {
  brokerWsUrl?: string | null;
  topicPrefix?: string;
  deviceId?: string | null;
  staleAfterMs?: number;
  title?: string;
}

export interface DisplayConfig {
  brokerUrl: string;
  prefix: string;
  /** null: the first device that reports a status. */
  deviceId: string | null;
  staleAfterMs: number;
  title: string;
  /** Problems with the given values (shown on the page; defaults used instead). */
  warnings: string[];
}

export interface PageLocation {
  protocol: string;
  hostname: string;
}

export const DEFAULT_STALE_MS = 3000;
const ID_RE = /^[A-Za-z0-9._-]{1,64}$/;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '0.0.0.0', '::', '[::]', '::1', '[::1]']);

function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || host.startsWith('127.');
}

export function resolveConfig(query: URLSearchParams, served: ServedConfig | null, loc: PageLocation): DisplayConfig {
  const warnings: string[] = [];
  const wsScheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';

  let brokerUrl = query.get('broker') ?? served?.brokerWsUrl ?? `${wsScheme}//${loc.hostname || '127.0.0.1'}:9001/`;
  try {
    const u = new URL(brokerUrl);
    if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new Error('not ws:// or wss://');
    // Only rewrite what the server told us; a broker given in the query is taken as written.
    if (!query.get('broker') && isLoopback(u.hostname) && loc.hostname && !isLoopback(loc.hostname)) {
      u.hostname = loc.hostname;
      brokerUrl = u.toString();
    }
  } catch (err) {
    warnings.push(`broker URL ${JSON.stringify(brokerUrl)} is not usable (${(err as Error).message}); using ws://${loc.hostname}:9001/`);
    brokerUrl = `${wsScheme}//${loc.hostname || '127.0.0.1'}:9001/`;
  }

  let prefix = query.get('prefix') ?? served?.topicPrefix ?? 'dermstream';
  if (prefix.length === 0 || /[+#]/.test(prefix)) {
    warnings.push(`topic prefix ${JSON.stringify(prefix)} is not usable; using dermstream`);
    prefix = 'dermstream';
  }

  let deviceId = query.get('device') ?? served?.deviceId ?? null;
  if (deviceId !== null && (deviceId === '' || deviceId === '+')) deviceId = null;
  if (deviceId !== null && !ID_RE.test(deviceId)) {
    warnings.push(`device id ${JSON.stringify(deviceId)} is not usable; showing the first device that reports`);
    deviceId = null;
  }

  let staleAfterMs = served?.staleAfterMs ?? DEFAULT_STALE_MS;
  const staleQ = query.get('stale');
  if (staleQ !== null) {
    const s = Number(staleQ);
    if (Number.isFinite(s) && s > 0 && s <= 600) staleAfterMs = s * 1000;
    else warnings.push(`stale=${staleQ} is not a number of seconds in (0, 600]`);
  }

  return { brokerUrl, prefix, deviceId, staleAfterMs, title: query.get('title') ?? served?.title ?? 'dermstream', warnings };
}
