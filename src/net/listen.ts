/**
 * The one way this project opens a listening socket (health/metrics, the bedside display, the embedded
 * broker's TCP and WebSocket listeners): listen, turn the first 'error' into a rejection instead of an
 * uncaught exception, report the port actually bound (port 0 = any free one), and close without waiting
 * for idle keep-alive connections (a browser tab keeps one open for minutes, which held `close()` up).
 * A leaf module: it imports nothing of ours, so every room may use it.
 */
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo, Server as NetServer } from 'node:net';

export interface Listening {
  port: number;
  /** `http://host:port` as a browser on this machine reaches it (0.0.0.0/:: shown as 127.0.0.1). */
  url(scheme?: string): string;
  close(): Promise<void>;
}

export function listen(server: NetServer | HttpServer, port: number, host: string): Promise<Listening> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = () => {
      server.off('error', onError);
      const bound = (server.address() as AddressInfo).port;
      resolve({ port: bound, url: (scheme = 'http') => `${scheme}://${shownHost(host)}:${bound}`, close: () => closeServer(server) });
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

export function shownHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

export function closeServer(server: NetServer | HttpServer): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    (server as HttpServer).closeAllConnections?.();
  });
}
