import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultDemoSource } from '../../src/capture/index.js';
import { ServiceMonitor } from '../../src/service/health/index.js';
import { Notifier, Watchdog } from '../../src/service/notify.js';
import { startRun, type Logger, type RunOptions } from '../../src/service/run.js';
import { collect } from '../publish/helpers/mqtt_collector.js';
import { mosquittoAvailable, mosquittoSkipReason, startMosquitto, type Mosquitto } from '../publish/helpers/mosquitto.js';

/**
 * Issue 10, item 8, through the whole run: the state folder on a 1 MiB tmpfs that fills up while the
 * service runs (the real network, real GStreamer, a real Mosquitto). Before: /healthz stayed ready, the
 * status said online, no metric moved. Mounting needs root: skipped with a message otherwise.
 */
const base = mkdtempSync(join(tmpdir(), 'dermstream-fulldisk-'));
const mnt = join(base, 'mnt');
let mounted = false;
try {
  mkdirSync(mnt);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt], { stdio: 'ignore' });
  mounted = true;
} catch {
  console.warn('cannot mount a tmpfs here (needs root): the full-disk run test is skipped');
}
if (!mosquittoAvailable) console.warn(mosquittoSkipReason);
const quiet: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

async function fill(dir: string): Promise<() => Promise<void>> {
  const file = join(dir, 'filler');
  const fh = await open(file, 'w');
  try {
    for (;;) if ((await fh.write(Buffer.alloc(4096, 1))).bytesWritten < 4096) break;
  } catch {
    /* ENOSPC */
  } finally {
    await fh.close();
  }
  return () => rm(file);
}

describe.skipIf(!mounted || !mosquittoAvailable)('a state disk that fills up while the service runs', () => {
  let broker: Mosquitto;
  beforeAll(async () => {
    broker = await startMosquitto();
  });
  afterAll(async () => {
    await broker?.dispose();
    if (mounted) execFileSync('umount', ['-l', mnt]);
    rmSync(base, { recursive: true, force: true });
  });

  it('turns /healthz not ready (storage), says degraded in the status and metrics, and recovers once space is freed', async () => {
    const notifier = new Notifier({ env: {} });
    const monitor = new ServiceMonitor({ notifier, watchdog: new Watchdog({ notifier, intervalMs: 1000 }) });
    const sub = await collect(broker.url, 'fd/bedside-1/status');
    const opts: RunOptions = {
      // The bundled clip, looped: lesions in view, so lesion messages (heartbeats) keep the outbox writing.
      source: defaultDemoSource(),
      capture: { loop: true },
      modelDir: resolve(__dirname, '../../models/default'),
      backend: 'wasm',
      pipeline: { qualityGate: false },
      brokerUrl: broker.url,
      embedded: { host: '127.0.0.1', tcpPort: 0, wsPort: false },
      // A lesion message at least every 300 ms (the heartbeat), so the outbox writes all the time.
      publisher: { prefix: 'fd', rates: { liveMaxHz: 1, snapshotMaxHz: 0, heartbeatMs: 300 } },
      deviceId: 'bedside-1',
      stateDir: join(mnt, 'state'),
      summary: false,
    };
    const handle = await startRun(opts, quiet, monitor.hooks);
    await until(() => monitor.health.ready, 20_000, 'ready');
    const free = await fill(mnt);
    await until(() => !monitor.health.snapshot().checks.storage.ok, 20_000, 'storage not ok');
    expect(monitor.health.ready).toBe(false);
    expect(monitor.health.snapshot().checks.storage.reason).toMatch(/ENOSPC/);
    expect(await monitor.metrics.text()).toMatch(/^dermstream_outbox_durable 0$/m);
    await sub.waitFor((m) => m.some((x) => x.json.state === 'degraded' && /storage: outbox not durable/.test(String(x.json.reason))), 10_000, 'degraded status');
    await free();
    await until(() => monitor.health.snapshot().checks.storage.ok, 40_000, 'storage ok again');
    expect(await monitor.metrics.text()).toMatch(/^dermstream_outbox_durable 1$/m);
    expect(handle.publisher.durability().memoryOnly).toBe(0);
    await handle.stop('test');
    await monitor.stopping('test');
    await sub.close();
  }, 120_000);
});

async function until(pred: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
