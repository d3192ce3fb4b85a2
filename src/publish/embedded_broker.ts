/**
 * The broker of the default `dermstream run`: aedes (MQTT 3.1.1, in-process, in-memory) on TCP and on WebSocket (for
 * the bedside display's browser), so nothing has to be installed. It does not speak MQTT 5: the publisher falls back
 * to 3.1.1 against it (snapshot metadata travels in the JSON envelope for that reason).
 *
 * Ports: TCP 1883 and WebSocket 9001 by default; if a port is taken, a free one is used instead and reported in the
 * result (`tcpPort`, `wsPort`, `url`, `wsUrl`) and in the log. `0` asks for a free port directly.
 */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { Aedes } from 'aedes';
import { WebSocketServer, createWebSocketStream } from 'ws';
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
  aedes: Aedes;
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

export async function startEmbeddedBroker(opts: EmbeddedBrokerOptions = {}): Promise<EmbeddedBroker> {
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
  const urlHost = host === '0.0.0.0' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const url = `mqtt://${urlHost}:${tcpPort}`;
  const wsUrl = wsPort !== null ? `ws://${urlHost}:${wsPort}/` : null;
  opts.logger?.info({ url, wsUrl }, 'embedded broker: listening');

  let closing: Promise<void> | null = null;
  return {
    host,
    tcpPort,
    wsPort,
    url,
    wsUrl,
    aedes,
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
