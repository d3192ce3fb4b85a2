/**
 * A WebSocket front for a TCP-only MQTT broker, for tests: Debian's mosquitto 2.0.11 here is built without
 * libwebsockets (a `protocol websockets` listener fails with "Unable to start any listening sockets"), so the
 * browser reaches the real Mosquitto through this: each WebSocket (subprotocol `mqtt`) is piped byte for byte to a TCP
 * connection to the broker. MQTT semantics (retained status, last will, QoS) stay entirely Mosquitto's.
 */
import { createConnection } from 'node:net';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, createWebSocketStream } from 'ws';

export interface WsProxy {
  wsUrl: string;
  close(): Promise<void>;
}

export async function startWsProxy(brokerPort: number, brokerHost = '127.0.0.1'): Promise<WsProxy> {
  const http = createServer();
  const wss = new WebSocketServer({ server: http, handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : protocols.values().next().value ?? false) });
  wss.on('connection', (ws) => {
    const stream = createWebSocketStream(ws);
    const tcp = createConnection({ port: brokerPort, host: brokerHost });
    stream.pipe(tcp).pipe(stream);
    const end = () => {
      stream.destroy();
      tcp.destroy();
    };
    stream.on('error', end);
    tcp.on('error', end);
    stream.on('close', end);
    tcp.on('close', end);
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
  const port = (http.address() as AddressInfo).port;
  return {
    wsUrl: `ws://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => http.close(() => resolve()));
        http.closeAllConnections();
      }),
  };
}
