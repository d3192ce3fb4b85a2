/**
 * The broker of the default `dermstream run`, on TCP and on WebSocket (for the bedside display's browser):
 * - where Debian's `mosquitto` is installed (setup installs it): a child Mosquitto with a generated config
 *   (`child_mosquitto.ts`: MQTT 5 and 3.1.1, persistence in the state dir) — what an EHR bridge with several workers
 *   (shared subscriptions, MQTT 5) needs;
 * - elsewhere: aedes (MQTT 3.1.1 only, in-process, in-memory), so nothing has to be installed. The publisher falls
 *   back to 3.1.1 against it (snapshot metadata travels in the JSON envelope for that reason), and so does the bridge
 *   (one worker, plain subscription).
 * `engine` forces one. Which one ran is logged and returned (`engine`, `protocols`).
 *
 * Ports: TCP 1883 and WebSocket 9001 by default; if a port is taken, a free one is used instead and reported in the
 * result (`tcpPort`, `wsPort`, `url`, `wsUrl`) and in the log. `0` asks for a free port directly.
 */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { DEFAULT_MOSQUITTO_BIN, mosquittoInstalled, startChildMosquitto } from './child_mosquitto.js';

export type EmbeddedEngine = 'mosquitto' | 'aedes';
import { listen } from '../net/listen.js';

export interface EmbeddedBrokerOptions {
  /** Interface to bind (default 127.0.0.1; `0.0.0.0` to let a display on another machine connect). */
  host?: string;
  /** Default 1883; 0 = any free port. */
  tcpPort?: number;
  /** Default 9001; 0 = any free port; `false` disables the WebSocket listener. */
  wsPort?: number | false;
  /** If the requested port is taken, use a free one (default true); else fail. */
  fallbackToFreePort?: boolean;
  /** `auto` (default): Mosquitto where `mosquittoBin` exists, else aedes. */
  engine?: 'auto' | EmbeddedEngine;
  /** Default /usr/sbin/mosquitto (env MOSQUITTO_BIN overrides). */
  mosquittoBin?: string;
  /** Mosquitto's config and persistence (the run passes `<stateDir>/broker`); default a temp dir removed at close. */
  dataDir?: string;
  logger?: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
}

export interface EmbeddedBroker {
  host: string;
  tcpPort: number;
  wsPort: number | null;
  /** `mqtt://host:tcpPort` */
  url: string;
  /** `ws://host:wsPort/` or null */
  wsUrl: string | null;
  engine: EmbeddedEngine;
  /** MQTT protocol levels it accepts: [4, 5] for Mosquitto, [4] for aedes. */
  protocols: (4 | 5)[];
  /** The in-process broker (aedes only). */
  aedes: Aedes | null;
  /** The child's pid (Mosquitto only). */
  pid: number | null;
  /** Disconnects every client and closes the listeners and the broker. */
  close(): Promise<void>;
}

/** The port bound (the shared helper; the broker closes its servers itself, with aedes). */
async function listenPort(server: NetServer | HttpServer, port: number, host: string): Promise<number> {
  return (await listen(server, port, host)).port;
}

async function listenWithFallback(server: NetServer | HttpServer, port: number, host: string, fallback: boolean, what: string, log?: EmbeddedBrokerOptions['logger']): Promise<number> {
  try {
    return await listenPort(server, port, host);
  } catch (err) {
    if (!fallback || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || port === 0) throw err;
    const got = await listenPort(server, 0, host);
    log?.warn({ requested: port, port: got }, `embedded broker: ${what} port ${port} is taken, using ${got}`);
    return got;
  }
}

function urlsOf(host: string, tcpPort: number, wsPort: number | null): { url: string; wsUrl: string | null } {
  const urlHost = host === '0.0.0.0' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return { url: `mqtt://${urlHost}:${tcpPort}`, wsUrl: wsPort !== null ? `ws://${urlHost}:${wsPort}/` : null };
}

export async function startEmbeddedBroker(opts: EmbeddedBrokerOptions = {}): Promise<EmbeddedBroker> {
  const bin = opts.mosquittoBin ?? process.env.MOSQUITTO_BIN ?? DEFAULT_MOSQUITTO_BIN;
  const engine = opts.engine ?? 'auto';
  if (engine === 'mosquitto' || (engine === 'auto' && mosquittoInstalled(bin))) return startMosquittoBroker(opts, bin);
  if (engine === 'auto') opts.logger?.info({ mosquittoBin: bin }, 'embedded broker: mosquitto not installed, using aedes (MQTT 3.1.1 only: an EHR bridge runs one worker against it)');
  return startAedesBroker(opts);
}

async function startMosquittoBroker(opts: EmbeddedBrokerOptions, bin: string): Promise<EmbeddedBroker> {
  const host = opts.host ?? '127.0.0.1';
  const tempDir = opts.dataDir ? null : await mkdtemp(join(tmpdir(), 'dermstream-broker-'));
  const child = await startChildMosquitto({
    bin,
    host,
    tcpPort: opts.tcpPort ?? 1883,
    wsPort: opts.wsPort === false ? false : (opts.wsPort ?? 9001),
    dataDir: opts.dataDir ?? tempDir!,
    fallbackToFreePort: opts.fallbackToFreePort ?? true,
    logger: opts.logger,
  }).catch(async (err) => {
    if (tempDir) await rm(tempDir, { recursive: true, force: true });
    throw err;
  });
  const { url, wsUrl } = urlsOf(host, child.tcpPort, child.wsPort);
  opts.logger?.info({ url, wsUrl, engine: 'mosquitto', pid: child.pid, conf: child.confPath }, 'embedded broker: mosquitto listening (MQTT 5 and 3.1.1)');
  let closing: Promise<void> | null = null;
  return {
    host,
    tcpPort: child.tcpPort,
    wsPort: child.wsPort,
    url,
    wsUrl,
    engine: 'mosquitto',
    protocols: [4, 5],
    aedes: null,
    pid: child.pid,
    close() {
      closing ??= (async () => {
        await child.close();
        if (tempDir) await rm(tempDir, { recursive: true, force: true });
      })();
      return closing;
    },
  };
}

async function startAedesBroker(opts: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const host = opts.host ?? '127.0.0.1';
  const fallback = opts.fallbackToFreePort ?? true;
  const aedes = await Aedes.createBroker();
  const sockets = new Set<Socket>();
  const tcp = createNetServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    aedes.handle(socket);
  });
  let http: HttpServer | null = null;
  let wss: WebSocketServer | null = null;
  let tcpPort: number;
  let wsPort: number | null = null;
  try {
    tcpPort = await listenWithFallback(tcp, opts.tcpPort ?? 1883, host, fallback, 'TCP', opts.logger);
    if (opts.wsPort !== false) {
      http = createHttpServer((_req, res) => {
        res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket only\n');
      });
      // Browsers' MQTT clients ask for the `mqtt` subprotocol (older ones `mqttv3.1`); answer with what they offer.
      // noServer: ws would otherwise re-emit the HTTP server's listen errors (EADDRINUSE) as its own, unhandled.
      const wsServer = new WebSocketServer({ noServer: true, handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : (protocols.values().next().value ?? false)) });
      wss = wsServer;
      http.on('upgrade', (req, socket, head) => wsServer.handleUpgrade(req, socket, head, (ws) => wsServer.emit('connection', ws, req)));
      wsServer.on('connection', (ws) => {
        const stream = createWebSocketStream(ws);
        stream.on('error', () => ws.terminate());
        aedes.handle(stream as Duplex as never);
      });
      wsPort = await listenWithFallback(http, opts.wsPort ?? 9001, host, fallback, 'WebSocket', opts.logger);
    }
  } catch (err) {
    tcp.close();
    http?.close();
    await new Promise<void>((r) => aedes.close(() => r()));
    throw err;
  }
  const { url, wsUrl } = urlsOf(host, tcpPort, wsPort);
  opts.logger?.info({ url, wsUrl, engine: 'aedes' }, 'embedded broker: aedes listening (MQTT 3.1.1 only)');

  let closing: Promise<void> | null = null;
  return {
    host,
    tcpPort,
    wsPort,
    url,
    wsUrl,
    engine: 'aedes',
    protocols: [4],
    aedes,
    pid: null,
    close() {
      closing ??= (async () => {
        const closeServer = (s: NetServer | HttpServer | null) => new Promise<void>((r) => (s ? s.close(() => r()) : r()));
        if (wss) for (const c of wss.clients) c.terminate();
        for (const s of sockets) s.destroy();
        await Promise.all([closeServer(tcp), wss ? new Promise<void>((r) => wss!.close(() => r())) : Promise.resolve(), closeServer(http)]);
        await new Promise<void>((r) => aedes.close(() => r()));
      })();
      return closing;
    },
  };
}
