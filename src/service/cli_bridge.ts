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
import { startBridge, type Bridge } from '../bridge/bridge.js';
import { SinkLockedError } from '../bridge/ndjson_sink.js';
import { createLogger } from './logging.js';
import { buildMqttConnect, type MqttConnectSettings, type MqttSettingsError } from '../publish/connect_options.js';

/** The bridge's names for the connect settings, so a refusal or a bad file names the flag to fix. */
const BRIDGE_KEYS: MqttConnectSettings['keys'] = {
  username: '--mqtt-username',
  password: '--mqtt-password-file',
  passwordFile: '--mqtt-password-file',
  caFile: '--mqtt-ca',
  certFile: '--mqtt-cert',
  keyFile: '--mqtt-key',
  keyPassphrase: '--mqtt-key-passphrase-file',
  rejectUnauthorized: '--mqtt-allow-insecure-tls',
  allowInsecureTls: '--mqtt-allow-insecure-tls',
};

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
    .option('--mqtt-username <user>', 'broker user name')
    .option('--mqtt-password-file <file>', 'file holding the broker password (first line); never put it in the URL')
    .option('--mqtt-ca <file>', 'CA certificate (PEM) that signed the broker certificate (mqtts://, wss://)')
    .option('--mqtt-cert <file>', 'client certificate (PEM), with --mqtt-key')
    .option('--mqtt-key <file>', 'client private key (PEM), with --mqtt-cert')
    .option('--mqtt-key-passphrase-file <file>', 'file holding the passphrase of an encrypted client key')
    .option('--mqtt-servername <name>', 'TLS server name (SNI) when it differs from the URL host')
    .option('--mqtt-allow-insecure-tls', 'do NOT verify the broker certificate (testing only; warned at start and in every stats line)')
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
      let mqtt;
      try {
        // The one options builder (as `run` and `doctor`), with the flag names for its messages.
        mqtt = buildMqttConnect({
          brokerUrl: o.broker,
          username: o.mqttUsername,
          passwordFile: o.mqttPasswordFile,
          tls: {
            caFile: o.mqttCa,
            certFile: o.mqttCert,
            keyFile: o.mqttKey,
            keyPassphraseFile: o.mqttKeyPassphraseFile,
            servername: o.mqttServername,
            rejectUnauthorized: o.mqttAllowInsecureTls !== true,
            allowInsecureTls: o.mqttAllowInsecureTls === true,
          },
          keys: BRIDGE_KEYS,
        });
      } catch (err) {
        log.error({ key: (err as MqttSettingsError).key }, `bridge: ${(err as Error).message}`);
        process.exitCode = 78; // EX_CONFIG
        return;
      }
      for (const w of mqtt.warnings) log.warn({ brokerUrl: mqtt.url }, `bridge: ${w}`);
      // /healthz answers from the start: 503 while the broker refuses us (the bridge keeps retrying), 200 once subscribed.
      let bridge: Bridge | undefined;
      let http: Server | null = null;
      if (o.httpPort !== undefined) {
        http = createServer((req, res) => {
          if (req.url === '/stats') {
            res.writeHead(bridge ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(bridge?.stats() ?? { starting: true }));
          } else if (req.url === '/healthz') {
            const s = bridge?.stats().subscription;
            const ok = !!s && s.connects > s.disconnects;
            res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : 'not connected to the broker\n');
          } else res.writeHead(404).end();
        });
        await new Promise<void>((r) => http!.listen(o.httpPort, o.httpHost, () => r()));
      }
      const starting = startBridge({
        brokerUrl: mqtt.url,
        mqtt: mqtt.auth,
        // Wait for the broker however long it refuses us: a user added later must not need a restart (issue 10 item 1).
        connectTimeoutMs: 0,
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
      try {
        bridge = await starting;
      } catch (err) {
        if (!(err instanceof SinkLockedError)) throw err;
        // Another live bridge writes this file: a second instance is a deployment mistake, and restarting will not fix it.
        log.error({ out: err.path }, `bridge: ${err.message}`);
        await new Promise<void>((r) => (http ? http.close(() => r()) : r()));
        process.exitCode = 78; // EX_CONFIG (the unit's RestartPreventExitStatus)
        return;
      }
      const running = bridge;
      const timer = o.statsInterval > 0 ? setInterval(() => log.info({ stats: running.stats(), ...(mqtt.insecureTls && { warning: mqtt.warnings.at(-1) }) }, 'bridge: counters'), o.statsInterval * 1000) : null;
      await new Promise<void>((resolve) => {
        const stop = (sig: string) => {
          log.info({ signal: sig }, 'bridge: stopping');
          resolve();
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
        // Node's default for SIGHUP is to die silently; the bridge has no file configuration to re-read.
        process.on('SIGHUP', () => log.info({ signal: 'SIGHUP' }, 'bridge: SIGHUP ignored (options are flags; restart the bridge to change them)'));
      });
      if (timer) clearInterval(timer);
      await new Promise<void>((r) => (http ? http.close(() => r()) : r()));
      await running.close();
      log.info({ stats: running.stats() }, 'bridge: final counters');
    });
}
