import type { Command } from 'commander';
import { loadOrReport } from './cli_config.js';
import { addConfigFlags, runOptionsFrom } from './config/index.js';
import { ServiceMonitor, startHealthServer } from './health/index.js';
import { createLogger } from './logging.js';
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
    const { config } = loaded;
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
      handle = await startRun(runOptionsFrom(config, { summary: process.stderr.isTTY === true }), log, monitor.hooks);
    } catch (err) {
      monitor.health.setModel(false, (err as Error).message);
      log.error({ err: (err as Error).message }, `cannot start: ${(err as Error).message}`);
      await monitor.stopping('start failed');
      await http?.close();
      process.exitCode = 1;
      return;
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
    await monitor.stopping('done');
    await http?.close();
    if (!process.stderr.isTTY) return;
    process.stderr.write(`${summary.processed} frames processed of ${summary.framesCaptured} captured in ${summary.seconds.toFixed(1)} s (${summary.dropped} dropped while the network was busy, ${summary.rejected} rejected by the quality gate); ${summary.lesionPublished} lesion messages, ${summary.outboxPending} waiting in the outbox\n`);
  });
}
