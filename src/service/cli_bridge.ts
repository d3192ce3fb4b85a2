/**
 * `dermstream bridge`: the EHR bridge worker (see src/bridge/bridge.ts): one FHIR R4 Observation per lesion
 * examination. Run several with the same `--group` (and each its own `--out`) to share the load on an MQTT 5 broker;
 * they share the group's episode ledger (the claims directory). On a 3.1.1-only broker it runs alone.
 *
 * Counters: logged every `--stats-interval` seconds and on exit; with `--http-port`, also served as JSON on
 * `GET /stats` (and `GET /healthz`: 200 while connected to the broker, 503 otherwise).
 */
import { createServer, type Server } from 'node:http';
import type { Command } from 'commander';
import { startBridge } from '../bridge/bridge.js';
import { createLogger } from './logging.js';

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
    return n;
  };
}

export function registerBridge(program: Command): void {
  program
    .command('bridge')
    .description('EHR bridge: one FHIR R4 Observation per lesion examination (episode) from MQTT (shared subscription, QoS 1) → NDJSON, optionally to a FHIR server')
    .requiredOption('--broker <url>', 'broker URL (mqtt://, mqtts://, ws://, wss://)')
    .requiredOption('--out <file>', 'NDJSON file the Observations are appended to (one per line, fsync per line)')
    .option('--group <name>', 'shared-subscription group: workers with the same group share the messages', 'dermstream-ehr')
    .option('--no-group', 'plain subscription (this worker gets every message)')
    .option('--prefix <prefix>', 'topic prefix', 'dermstream')
    .option('--device <id>', 'only this device (default: all)')
    .option('--fhir-url <url>', 'FHIR R4 base URL: also POST each Observation to <url>/Observation (conditional create)')
    .option('--fhir-token-file <file>', 'file with a bearer token for the FHIR server (re-read when it changes)')
    .option('--fhir-max-attempts <n>', 'attempts per Observation before it waits for the next start', positiveInt('--fhir-max-attempts'), 6)
    .option('--client-id <id>', 'MQTT client id (default: derived from host and --out, stable across restarts)')
    .option('--session-expiry <s>', 'how long the broker keeps unacknowledged verdicts for this worker while it is down', positiveInt('--session-expiry'), 7 * 24 * 3600)
    .option('--claims-dir <dir>', 'shared de-duplication directory of the group (default: next to --out); must be shared by all workers of the group')
    .option('--no-claims', 'no cross-worker de-duplication (each worker only de-duplicates its own file)')
    .option('--dead-letter <file>', 'where invalid messages are kept (default: <out>.rejected.ndjson)')
    .option('--provisional-after <s>', 'no end of examination this long after the last message of an episode: write a preliminary Observation from its last stable verdict', positiveInt('--provisional-after'), 15)
    .option('--stats-interval <s>', 'log the counters every N seconds (0: only at exit)', positiveInt('--stats-interval'), 60)
    .option('--http-port <port>', 'serve GET /stats and /healthz on 127.0.0.1:<port>', positiveInt('--http-port'))
    .option('--http-host <host>', 'interface for --http-port', '127.0.0.1')
    .option('--log-level <level>', 'trace | debug | info | warn | error', 'info')
    .action(async (o) => {
      const log = createLogger(o.logLevel, { pretty: 'auto', base: { component: 'bridge' } });
      const bridge = await startBridge({
        brokerUrl: o.broker,
        out: o.out,
        group: o.group === false ? null : o.group,
        prefix: o.prefix,
        deviceId: o.device,
        fhirUrl: o.fhirUrl,
        fhirTokenFile: o.fhirTokenFile,
        fhir: { maxAttempts: o.fhirMaxAttempts },
        clientId: o.clientId,
        sessionExpirySec: o.sessionExpiry,
        claimsDir: o.claims === false ? null : o.claimsDir,
        deadLetter: o.deadLetter,
        provisionalAfterMs: o.provisionalAfter * 1000,
        logger: log,
      });
      let http: Server | null = null;
      if (o.httpPort !== undefined) {
        http = createServer((req, res) => {
          if (req.url === '/stats') {
            res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(bridge.stats()));
          } else if (req.url === '/healthz') {
            const ok = bridge.stats().subscription.connects > bridge.stats().subscription.disconnects;
            res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : 'not connected to the broker\n');
          } else res.writeHead(404).end();
        });
        await new Promise<void>((r) => http!.listen(o.httpPort, o.httpHost, () => r()));
      }
      const timer = o.statsInterval > 0 ? setInterval(() => log.info({ stats: bridge.stats() }, 'bridge: counters'), o.statsInterval * 1000) : null;
      await new Promise<void>((resolve) => {
        const stop = (sig: string) => {
          log.info({ signal: sig }, 'bridge: stopping');
          resolve();
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      });
      if (timer) clearInterval(timer);
      await new Promise<void>((r) => (http ? http.close(() => r()) : r()));
      await bridge.close();
      log.info({ stats: bridge.stats() }, 'bridge: final counters');
    });
}
