import type { Command } from 'commander';
import { loadOrReport } from './cli_config.js';
import { addConfigFlags, runOptionsFrom } from './config/index.js';
import { ServiceMonitor, startHealthServer } from './health/index.js';
import { createLogger } from './logging.js';
import { loadConfig } from './config/load.js';
import { handleSighup } from './sighup.js';
import { StatusLine } from './status_line.js';
import { startDisplayServer, type DisplayServer } from '../display/index.js';
import { exitCodeFor, StartError } from './exit_codes.js';
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
    // As loaded, before the demo adjustments below: what a SIGHUP compares the file against.
    const asLoaded = structuredClone(config);
    const isDefault = (key: string) => (sources[key]?.kind ?? 'default') === 'default';
    // The demo run (embedded broker, nothing configured) shows its display and snapshots; a configured
    // headless service serves the page only when asked (display.enabled or --display-port).
    const embeddedDemo = !config.mqtt.brokerUrl;
    const displayOn = config.display.enabled || !isDefault('display.port') || (embeddedDemo && isDefault('display.enabled'));
    if (displayOn && isDefault('mqtt.snapshot.enabled')) config.mqtt.snapshot.enabled = true;
    // On a terminal: one live status line at the bottom that log lines pass above (log-update).
    const status = process.stderr.isTTY ? new StatusLine(process.stderr) : undefined;
    const log = createLogger(config.log.level, { pretty: config.log.pretty, base: { deviceId: config.deviceId }, ...(status && { around: (w: () => void) => status.around(w) }) });
    for (const n of loaded.notices) log.warn({}, n);
    let handle: RunHandle | undefined;
    const monitor = new ServiceMonitor({
      logger: log,
      totals: () => {
        const c = handle?.pipelineCounters();
        const ob = handle?.publisher.stats().outbox;
        const d = handle?.publisher.durability();
        return {
          processed: c?.processed,
          dropped: c?.dropped,
          rejected: c?.rejected,
          outboxDepth: ob?.depth,
          outboxDropped: ob?.dropped,
          ...(d && { outboxDurable: d.durable, outboxMemoryOnly: d.memoryOnly, outboxWriteFailures: d.writeFailures }),
        };
      },
    });
    const http = config.http.enabled ? await startHealthServer({ host: config.http.host, port: config.http.port, health: monitor.health, metrics: monitor.metrics, logger: log }) : undefined;
    try {
      handle = await startRun(runOptionsFrom(config, { summary: status !== undefined, sources }), log, {
        ...monitor.hooks,
        onSummary: (text) => (text === null ? status?.done() : status?.update(text)),
      });
    } catch (err) {
      const e = err as Error;
      const code = exitCodeFor(err);
      monitor.health.setModel(false, e.message);
      if (e instanceof StartError) log.error({ key: e.key, hint: e.hint, exitCode: code }, `cannot start: ${e.message} (fix: ${e.hint})`);
      else log.error({ err: e.message, exitCode: code }, `cannot start: ${e.message}`);
      process.exitCode = code;
      // Whatever still holds the loop (a socket, a worker) must not turn a failed start into a hang.
      setTimeout(() => process.exit(code), 5000).unref();
      await monitor.stopping('start failed');
      await http?.close();
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
        // Once: the display server's own line says where it serves.
        log.debug({ url: display.url }, `bedside display: ${display.url}`);
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
    const offHup = handleSighup({ reload: () => loadConfig({ flags: o, env: process.env }).config, current: asLoaded, logger: log });
    const summary = await handle.done;
    offHup();
    // Only a recording that played out or a requested stop exits 0: systemd's Restart=on-failure restarts
    // the rest (a camera that failed for good exits 69, a launch description that cannot work 78).
    process.exitCode = exitCodeFor(summary.error);
    if (summary.error) setTimeout(() => process.exit(exitCodeFor(summary.error)), 5000).unref();
    await display?.close();
    await monitor.stopping('done');
    await http?.close();
    if (!process.stderr.isTTY) return;
    process.stderr.write(`${summary.processed} frames processed of ${summary.framesCaptured} captured in ${summary.seconds.toFixed(1)} s (${summary.dropped} dropped while the network was busy, ${summary.rejected} rejected by the quality gate); ${summary.lesionPublished} lesion messages, ${summary.outboxPending} waiting in the outbox\n`);
  });
}
