/**
 * The bedside display's HTTP server (node:http, no framework): serves the page, its modules, mqtt.js's browser build
 * from node_modules (the bedside network is closed: no CDN) and `/config.json` (broker WebSocket URL, topic prefix,
 * device id). The page itself connects to the broker; this server never touches MQTT.
 *
 * Routes: `/` (the page), `/style.css`, `/page/<module>.js`, `/types/body_sites.js` (the SNOMED CT site list the page
 * shares with the device), `/vendor/mqtt.esm.js`, `/config.json`, `/healthz`.
 *
 * Page modules: from `dist/` they are the `.js` files `tsc` emits next to this one (`npm run build` is enough, no
 * extra step). When run from the TypeScript sources (tsx, vitest) there are only `.ts` files: they are compiled on
 * request with esbuild's `transform` (esbuild comes with tsx/vite, dev dependencies) and cached.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listen } from '../net/listen.js';
import { indexHtml, STYLE_CSS } from './page_html.js';
import type { ServedConfig } from './page/config.js';

export interface DisplayServerOptions {
  /** 0 = any free port. */
  port: number;
  /** Interface to bind (default 127.0.0.1; `0.0.0.0` to serve other machines). */
  host?: string;
  /** The broker's WebSocket URL as the browser should reach it, e.g. `ws://127.0.0.1:9001/`. A loopback host is
   *  rewritten by the page to its own host name when opened from another machine. null: the page's default. */
  brokerWsUrl: string | null;
  topicPrefix?: string;
  /** The device to show; null/undefined: the first one that reports a status. */
  deviceId?: string | null;
  /** Grey the verdict out after this long without a lesion/live message (default 3000 ms). */
  staleAfterMs?: number;
  title?: string;
  logger?: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
}

export interface DisplayServer {
  /** `http://host:port/` */
  url: string;
  port: number;
  close(): Promise<void>;
}

const here = dirname(fileURLToPath(import.meta.url));
const PAGE_DIR = join(here, 'page');
const MODULE_RE = /^\/page\/([a-z_]+)\.js$/;
// Shared contract modules the page imports at run time (`../../types/x.js` from /page/ resolves to /types/x.js).
// An allow-list: nothing else of src/ is served.
const TYPES_DIR = join(here, '..', 'types');
const TYPES_RE = /^\/types\/(body_sites)\.js$/;

/** mqtt's browser ES module build, found from the installed package (walk up from its entry to its package.json). */
export function mqttBrowserBuildPath(): string {
  const require = createRequire(import.meta.url);
  let dir = dirname(require.resolve('mqtt'));
  for (let i = 0; i < 6; i++) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'mqtt') {
      const p = join(dir, 'dist', 'mqtt.esm.js');
      if (existsSync(p)) return p;
      break;
    }
    dir = dirname(dir);
  }
  throw new Error('mqtt browser build (mqtt/dist/mqtt.esm.js) not found in node_modules');
}

type Transform = (code: string, opts: { loader: 'ts'; format: 'esm'; target: string; sourcefile: string }) => Promise<{ code: string }>;

async function loadModuleSource(name: string, cache: Map<string, string>, dir = PAGE_DIR): Promise<string | null> {
  const hit = cache.get(`${dir}/${name}`);
  if (hit !== undefined) return hit;
  const js = join(dir, `${name}.js`);
  const ts = join(dir, `${name}.ts`);
  let code: string;
  if (existsSync(js)) code = await readFile(js, 'utf8');
  else if (existsSync(ts)) {
    // Running from sources: compile this one module (type-only imports vanish, `.js` specifiers stay as written).
    const esbuild = (await import('esbuild')) as unknown as { transform: Transform };
    code = (await esbuild.transform(await readFile(ts, 'utf8'), { loader: 'ts', format: 'esm', target: 'es2022', sourcefile: ts })).code;
  } else return null;
  cache.set(`${dir}/${name}`, code);
  return code;
}

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  // Everything from this server; the broker over ws/wss; snapshots as data: URLs; mqtt.js's keepalive timer worker
  // (a blob: worker, so that a background tab's throttled timers do not drop the connection). Nothing else can load.
  'content-security-policy':
    "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; script-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'self'; frame-ancestors 'self'",
};

export async function startDisplayServer(opts: DisplayServerOptions): Promise<DisplayServer> {
  const mqttPath = mqttBrowserBuildPath();
  const mqttJs = await readFile(mqttPath);
  const modules = new Map<string, string>();
  const config: ServedConfig = {
    brokerWsUrl: opts.brokerWsUrl,
    topicPrefix: opts.topicPrefix ?? 'dermstream',
    deviceId: opts.deviceId ?? null,
    staleAfterMs: opts.staleAfterMs ?? 3000,
    title: opts.title ?? 'dermstream',
  };
  const html = indexHtml(config.title);

  const send = (res: ServerResponse, status: number, type: string, body: string | Buffer, cache = 'no-cache') => {
    res.writeHead(status, { 'content-type': type, 'cache-control': cache, ...SECURITY_HEADERS });
    res.end(body);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/' || path === '/index.html') return send(res, 200, 'text/html; charset=utf-8', html);
    if (path === '/style.css') return send(res, 200, 'text/css; charset=utf-8', STYLE_CSS);
    if (path === '/config.json') return send(res, 200, 'application/json', JSON.stringify(config), 'no-store');
    if (path === '/healthz') return send(res, 200, 'text/plain', 'ok\n', 'no-store');
    if (path === '/favicon.ico') {
      res.writeHead(204, { 'cache-control': 'public, max-age=86400' }).end();
      return;
    }
    if (path === '/vendor/mqtt.esm.js') return send(res, 200, 'text/javascript; charset=utf-8', mqttJs, 'public, max-age=3600');
    const m = MODULE_RE.exec(path);
    const t = m ? null : TYPES_RE.exec(path);
    if (m || t) {
      const code = await loadModuleSource((m ?? t)![1]!, modules, m ? PAGE_DIR : TYPES_DIR);
      if (code !== null) return send(res, 200, 'text/javascript; charset=utf-8', code);
    }
    send(res, 404, 'text/plain', 'not found\n');
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      opts.logger?.warn({ err: err.message, url: req.url }, 'display: request failed');
      if (!res.headersSent) send(res, 500, 'text/plain', 'internal error\n');
      else res.destroy();
    });
  });
  const host = opts.host ?? '127.0.0.1';
  const listening = await listen(server, opts.port, host);
  const url = `${listening.url()}/`;
  opts.logger?.info({ url, brokerWsUrl: opts.brokerWsUrl, deviceId: config.deviceId }, `bedside display: ${url}`);
  return { url, port: listening.port, close: listening.close };
}
