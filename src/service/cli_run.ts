import type { Command } from 'commander';
import { loadOrReport } from './cli_config.js';
import { addConfigFlags, runOptionsFrom } from './config/index.js';
import { ServiceMonitor, startHealthServer } from './health/index.js';
import { createLogger } from './logging.js';
import { startDisplayServer, type DisplayServer } from '../display/index.js';
import { startRun, type RunHandle } from './run.js';

/** `dermstream run`: the main job, wired to config, logs, health/metrics and systemd. */
export function registerRun(program: Command): void {
  const run = program
    .command('run')
    .description('capture → network → steady verdicts → MQTT; with no options: the bundled demo clip, the shipped model and an embedded broker');
  addConfigFlags(run);
  run.action(async (o: Record<string, unknown>) => {
    const loaded = loadOrReport(o);
    if (!loaded) return;
    const { config, sources } = loaded;
    const isDefault = (key: string) => (sources[key]?.kind ?? 'default') === 'default';
    // The demo run (embedded broker, nothing configured) shows its display and snapshots; a configured
    // headless service serves the page only when asked (display.enabled or --display-port).
    const embeddedDemo = !config.mqtt.brokerUrl;
    const displayOn = config.display.enabled || !isDefault('display.port') || (embeddedDemo && isDefault('display.enabled'));
    if (displayOn && isDefault('mqtt.snapshot.enabled')) config.mqtt.snapshot.enabled = true;
    const log = createLogger(config.log.level, { pretty: config.log.pretty, base: { deviceId: config.deviceId } });
    for (const n of loaded.notices) log.warn({}, n);
    let handle: RunHandle | undefined;
    const monitor = new ServiceMonitor({
      logger: log,
      totals: () => {
        const c = handle?.pipelineCounters();
        const ob = handle?.publisher.stats().outbox;
        return { processed: c?.processed, dropped: c?.dropped, rejected: c?.rejected, outboxDepth: ob?.depth, outboxDropped: ob?.dropped };
      },
    });
    const http = config.http.enabled ? await startHealthServer({ host: config.http.host, port: config.http.port, health: monitor.health, metrics: monitor.metrics, logger: log }) : undefined;
    try {
      handle = await startRun(runOptionsFrom(config, { summary: process.stderr.isTTY === true, sources }), log, monitor.hooks);
    } catch (err) {
      monitor.health.setModel(false, (err as Error).message);
      log.error({ err: (err as Error).message }, `cannot start: ${(err as Error).message}`);
      await monitor.stopping('start failed');
      await http?.close();
      process.exitCode = 1;
      return;
    }
    let display: DisplayServer | undefined;
    if (displayOn) {
      try {
        display = await startDisplayServer({
          port: config.display.port,
          host: config.mqtt.embedded.host,
          brokerWsUrl: handle.info.brokerWsUrl ?? null,
          topicPrefix: config.mqtt.topicPrefix,
          deviceId: config.deviceId,
          logger: log,
        });
        log.info({ url: display.url }, `bedside display: ${display.url}`);
        if (process.stderr.isTTY) process.stderr.write(`bedside display: ${display.url}\n`);
      } catch (err) {
        log.warn({ err: (err as Error).message }, `display not started: ${(err as Error).message}`);
      }
    }
    let stopping = false;
    const stop = async (sig: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal: sig }, `${sig}: stopping (outbox flushed or kept)`);
      await monitor.stopping(sig);
      await handle?.stop(sig);
    };
    process.once('SIGTERM', () => void stop('SIGTERM'));
    process.once('SIGINT', () => void stop('SIGINT'));
    const summary = await handle.done;
    await display?.close();
    await monitor.stopping('done');
    await http?.close();
    if (!process.stderr.isTTY) return;
    process.stderr.write(`${summary.processed} frames processed of ${summary.framesCaptured} captured in ${summary.seconds.toFixed(1)} s (${summary.dropped} dropped while the network was busy, ${summary.rejected} rejected by the quality gate); ${summary.lesionPublished} lesion messages, ${summary.outboxPending} waiting in the outbox\n`);
  });
}
