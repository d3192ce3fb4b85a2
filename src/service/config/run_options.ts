/**
 * The validated configuration → what `startRun` (src/service/run.ts) takes. One place that says which key
 * feeds which room, so the wiring in run/cli stays a call: `startRun(runOptionsFrom(config), log, hooks)`.
 */
import { parseSource } from '../../capture/source_spec.js';
import type { RunOptions } from '../run.js';
import type { MqttTlsSettings } from '../../publish/connect_options.js';
import type { DermstreamConfig } from './schema.js';
import type { ConfigSource } from './errors.js';
import { operatingPointInForce } from './operating_point.js';

/** mqtt.tls.* → the options builder's TLS settings (all of them: the key passphrase was once dropped here). */
export function mqttTlsSettings(t: DermstreamConfig['mqtt']['tls']): MqttTlsSettings {
  return {
    caFile: t.ca,
    certFile: t.cert,
    keyFile: t.key,
    keyPassphrase: t.keyPassphrase,
    rejectUnauthorized: t.rejectUnauthorized,
    allowInsecureTls: t.allowInsecureTls,
    servername: t.servername,
  };
}

/** `sources` (from loadConfig) tells the wire whether the operating point is the model's or the configuration's. */
export function runOptionsFrom(c: DermstreamConfig, extra: { summary?: boolean; sources?: Record<string, ConfigSource> } = {}): RunOptions {
  const live = ['v4l2', 'test', 'gst'].includes(parseSource(c.source).kind);
  const m = c.mqtt;
  return {
    source: c.source,
    capture: {
      width: c.capture.width,
      height: c.capture.height,
      fps: c.capture.fps,
      realtime: c.capture.realtime,
      loop: c.capture.loop,
      stallTimeoutMs: c.capture.stallTimeoutMs,
      maxImageSide: c.capture.maxImageSide,
      maxImagePixels: c.capture.maxImagePixels,
      isolate: c.capture.isolate,
      ...(c.capture.formats && { v4l2Formats: c.capture.formats }),
      // Recorded sources keep capture's default (no restart); live ones re-open with the configured back-off.
      ...(live && { restart: { initialMs: c.capture.backoff.initialMs, maxMs: c.capture.backoff.maxMs } }),
    },
    modelDir: c.model.path,
    ...(extra.sources && { operatingPoint: operatingPointInForce(c.pipeline.debounce, extra.sources) }),
    backend: c.model.backend,
    modelTrust: { trustedKeys: c.model.trustedKeys, requireSignature: c.model.requireSignature },
    engine: { engine: c.model.engine, onnx: { threads: c.model.onnx.threads || undefined, providers: c.model.onnx.providers } },
    pipeline: {
      qualityGate: c.pipeline.qualityGate,
      qualityThresholds: c.pipeline.quality,
      debounceParams: c.pipeline.debounce,
      episodes: c.pipeline.episode,
      contourTolerance: c.pipeline.contourTolerancePx,
    },
    brokerUrl: m.brokerUrl,
    embedded: { host: m.embedded.host, tcpPort: m.embedded.port, wsPort: m.embedded.wsPort },
    publisher: {
      prefix: m.topicPrefix,
      clientId: m.clientId,
      username: m.username,
      password: m.password,
      tls: mqttTlsSettings(m.tls),
      keepaliveS: m.keepaliveS,
      rates: {
        liveMaxHz: m.liveMaxHz,
        snapshotMaxHz: m.snapshot.enabled ? m.snapshot.maxHz : 0,
        snapshotMaxWidth: m.snapshot.width,
        heartbeatMs: m.heartbeatMs,
        metricsIntervalMs: m.metricsIntervalMs,
      },
      outbox: { maxBytes: c.outbox.maxBytes, maxAgeMs: Math.round(c.outbox.maxAgeHours * 3600 * 1000) },
    },
    deviceId: c.deviceId,
    stateDir: c.outbox.stateDir,
    maxFrames: c.run.maxFrames,
    durationS: c.run.durationS,
    summary: extra.summary ?? false,
  };
}
