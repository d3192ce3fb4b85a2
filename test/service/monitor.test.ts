import { describe, expect, it } from 'vitest';
import type { RunHooks } from '../../src/service/run.js';
import { Metrics, ServiceMonitor } from '../../src/service/health/index.js';
import { Notifier, Watchdog } from '../../src/service/notify.js';

const at = { monoMs: 0, wallMs: 0 } as never;
const model = { name: 'lesionnet-edge', version: '1.0.0', sha256: 'ab'.repeat(32), quantization: 'uint8' as const, backend: 'wasm' };

describe('ServiceMonitor', () => {
  it('its hooks are RunHooks, and they drive health and metrics', async () => {
    const notifier = new Notifier({ env: {} });
    const m = new ServiceMonitor({ notifier, watchdog: new Watchdog({ notifier, intervalMs: 1000 }), totals: () => ({ processed: 5, dropped: 1, rejected: { dark: 2 }, outboxDepth: 4, outboxDropped: { age: 1 } }) });
    const hooks: RunHooks = m.hooks; // compile-time: fits startRun's hooks
    expect(m.health.ready).toBe(false);
    hooks.onReady!({ model, brokerUrl: 'mqtt://x', source: 'test' });
    expect(m.health.snapshot().checks.model.ok).toBe(true);
    hooks.onBroker!(true);
    hooks.onCaptureEvent!({ type: 'opening', source: 'test', at, restarts: 0, attempt: 1, plan: 'test' });
    expect(m.health.ready).toBe(false);
    hooks.onCaptureEvent!({ type: 'first-frame', source: 'test', at, restarts: 0, width: 640, height: 480, openMs: 12 });
    expect(m.health.ready).toBe(true);
    hooks.onCaptureEvent!({ type: 'stalled', source: 'test', at, restarts: 0, sinceMs: 2100, timeoutMs: 2000 });
    expect(m.health.summary()).toBe('not ready: camera (no frame for 2100 ms)');
    hooks.onCaptureEvent!({ type: 'reopening', source: 'test', at, restarts: 1, inMs: 500, failures: 1 });
    hooks.onCaptureEvent!({ type: 'first-frame', source: 'test', at, restarts: 1, width: 640, height: 480, openMs: 12 });
    hooks.onBroker!(false);
    expect(m.health.summary()).toBe('not ready: broker (not connected to the MQTT broker)');
    hooks.onFrame!({} as never);
    hooks.onEvent!({ timings: { latencyMs: 40 }, stages: { inferMs: 30, qualityMs: 1 } } as never);
    const text = await m.metrics.text();
    expect(text).toMatch(/^dermstream_camera_restarts_total 1$/m);
    expect(text).toMatch(/^dermstream_frames_captured_total 1$/m);
    expect(text).toMatch(/^dermstream_frames_processed_total 5$/m);
    expect(text).toMatch(/^dermstream_quality_rejections_total\{reason="dark"\} 2$/m);
    expect(text).toMatch(/^dermstream_outbox_depth 4$/m);
    expect(text).toMatch(/^dermstream_outbox_dropped_total\{reason="age"\} 1$/m);
    expect(text).toMatch(/^dermstream_inference_backend\{backend="wasm"\} 1$/m);
    expect(text).toMatch(/^dermstream_camera_state\{state="streaming"\} 1$/m);
    expect(text).toMatch(/^dermstream_end_to_end_latency_milliseconds_count 1$/m);
    await m.stopping('test');
  });

  it('separate Metrics instances do not share a registry', async () => {
    const a = new Metrics({ defaultMetrics: false });
    const b = new Metrics({ defaultMetrics: false });
    a.framesCaptured.inc(3);
    expect(await b.text()).toMatch(/^dermstream_frames_captured_total 0$/m);
  });

  it('a state disk that refuses writes makes the device not ready, in /healthz terms and metrics, until it recovers (issue 10, item 8)', async () => {
    const notifier = new Notifier({ env: {} });
    const m = new ServiceMonitor({ notifier, watchdog: new Watchdog({ notifier, intervalMs: 1000 }) });
    m.hooks.onReady({ model, source: 'test' });
    m.hooks.onBroker(true);
    m.hooks.onCaptureEvent({ type: 'first-frame', source: 'test', at, restarts: 0, width: 64, height: 48, openMs: 1 });
    expect(m.health.ready).toBe(true);
    m.hooks.onStorage!({ durable: false, reason: 'ENOSPC: no space left on device, write', memoryOnly: 7, writeFailures: 2 });
    expect(m.health.ready).toBe(false);
    expect(m.health.summary()).toBe('not ready: storage (state disk refuses writes (ENOSPC: no space left on device, write): 7 lesion messages in memory only)');
    let text = await m.metrics.text();
    expect(text).toMatch(/^dermstream_outbox_durable 0$/m);
    expect(text).toMatch(/^dermstream_outbox_memory_only 7$/m);
    expect(text).toMatch(/^dermstream_outbox_write_failures_total 2$/m);
    m.hooks.onStorage!({ durable: true, memoryOnly: 0, writeFailures: 3 });
    expect(m.health.ready).toBe(true);
    text = await m.metrics.text();
    expect(text).toMatch(/^dermstream_outbox_durable 1$/m);
    expect(text).toMatch(/^dermstream_outbox_write_failures_total 3$/m);
    m.hooks.onCaptureEvent({ type: 'skipped', source: 'images:x', at, restarts: 0, file: 'x/a.jpg', reason: 'truncated', skipped: 1 });
    expect(await m.metrics.text()).toMatch(/^dermstream_inputs_skipped_total 1$/m);
    await m.stopping('test');
  });
});
