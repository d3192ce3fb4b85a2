import { Agent, createServer, request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { listen, shownHost } from '../../src/net/listen.js';

describe('listen (the one listen helper)', () => {
  it('binds a free port for 0, rejects a taken one with EADDRINUSE instead of throwing, and closes with an idle keep-alive client', async () => {
    const a = createServer((_req, res) => res.end('ok'));
    const first = await listen(a, 0, '127.0.0.1');
    expect(first.port).toBeGreaterThan(0);
    expect(first.url()).toBe(`http://127.0.0.1:${first.port}`);
    const b = createServer();
    await expect(listen(b, first.port, '127.0.0.1')).rejects.toMatchObject({ code: 'EADDRINUSE' });
    // A keep-alive connection left open (as a browser tab does) must not hold close() up.
    await new Promise<void>((resolve) => request({ port: first.port, agent: new Agent({ keepAlive: true }) }, (res) => res.resume().on('end', resolve)).end());
    const t0 = performance.now();
    await first.close();
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('shows an any-address bind as 127.0.0.1 and brackets IPv6', () => {
    expect(shownHost('0.0.0.0')).toBe('127.0.0.1');
    expect(shownHost('::')).toBe('127.0.0.1');
    expect(shownHost('::1')).toBe('[::1]');
    expect(shownHost('10.0.0.5')).toBe('10.0.0.5');
  });
});
