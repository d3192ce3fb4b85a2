/**
 * The health and metrics endpoint (node:http; four routes need no framework):
 *   GET /livez    200 {live: true} while the event loop answers
 *   GET /healthz  200 when ready, 503 when live but not ready; body {live, ready, checks: {camera, model, broker}}
 *   GET /readyz   the same as /healthz
 *   GET /metrics  Prometheus text format
 * Bound to 127.0.0.1 by default: a Prometheus or node_exporter on the device scrapes it; open it to the
 * network only on purpose (http.host: 0.0.0.0).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listen } from '../../net/listen.js';
import type { HealthState } from './health_state.js';
import type { Metrics } from './metrics.js';

export interface HealthServerOptions {
  host?: string;
  /** 0 = any free port (tests). */
  port: number;
  health: HealthState;
  metrics?: Metrics;
  logger?: { warn(obj: object, msg?: string): void };
}

export interface HealthServer {
  readonly host: string;
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

export async function startHealthServer(opts: HealthServerOptions): Promise<HealthServer> {
  const host = opts.host ?? '127.0.0.1';
  const json = (res: ServerResponse, status: number, body: unknown, head: boolean) => {
    const text = `${JSON.stringify(body)}\n`;
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
    res.end(head ? undefined : text);
  };
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const head = req.method === 'HEAD';
    if (req.method !== 'GET' && !head) {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    switch (url.pathname) {
      case '/livez':
        return json(res, 200, { live: true }, head);
      case '/healthz':
      case '/readyz': {
        const snap = opts.health.snapshot();
        return json(res, snap.ready ? 200 : 503, snap, head);
      }
      case '/metrics': {
        if (!opts.metrics) return json(res, 404, { error: 'metrics disabled' }, head);
        const text = await opts.metrics.text();
        res.writeHead(200, { 'content-type': opts.metrics.registry.contentType, 'cache-control': 'no-store' });
        res.end(head ? undefined : text);
        return;
      }
      default:
        return json(res, 404, { error: 'not found', routes: ['/healthz', '/livez', '/readyz', '/metrics'] }, head);
    }
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      opts.logger?.warn({ err }, 'health endpoint failed');
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  server.keepAliveTimeout = 5000;
  const listening = await listen(server, opts.port, host);
  return { host, port: listening.port, url: listening.url(), close: listening.close };
}
