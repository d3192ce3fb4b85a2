/**
 * The EHR bridge: stable lesion verdicts from MQTT → FHIR R4 Observations, written to an NDJSON file and optionally
 * POSTed to a FHIR server.
 *
 * Per message (one at a time per worker; `subscribeLesions` acknowledges it when this returns):
 *  1. parse + validate against the lesion schema (invalid → dead-letter file + counter, acknowledged: a re-send would
 *     not make it valid; the bridge keeps running);
 *  2. keep only `state: stable` on the `lesion` topic (others counted as skipped);
 *  3. de-duplicate by `messageId`: this worker's own record (the identifiers in its NDJSON file, re-read on start,
 *     bounded), then the group's shared claim directory (`claims.ts`) so two workers never both write one id;
 *  4. map to an Observation (`observation.ts`), check it against the FHIR subset schema, append it to the NDJSON file
 *     and fdatasync — only then is the MQTT message acknowledged, so a crash before that leaves it with the broker,
 *     which sends it again (persistent session, stable client id);
 *  5. queue it for the FHIR server (`fhir_sender.ts`, off the acknowledgement path, with its own journal).
 *
 * Operating notes (measured against Mosquitto 2.0.11):
 * - Each worker has a persistent session (clean start off, session expiry 7 days by default) under a client id that
 *   is stable per host and output file, so verdicts it had not acknowledged when it crashed are sent to it again
 *   when it comes back (the kill -9 test).
 * - Mosquitto keeps routing a share group's messages round-robin to members whose persistent session is offline:
 *   while a crashed worker is down, its share of *new* verdicts waits in its session until it returns (they are not
 *   lost unless it stays away longer than the session expiry). Run workers under a supervisor that restarts them
 *   (systemd `Restart=always`); to drain the session of a worker that will not return, start a bridge with its
 *   `--client-id` (logged at start) anywhere. A worker that stops cleanly unsubscribes first, so it does not hoard.
 * - All workers of a group must see the same claim directory (same host, or a shared filesystem); otherwise a
 *   duplicate publish delivered to two workers is written by both (the FHIR conditional create still stops the
 *   second resource).
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import type { IClientOptions } from 'mqtt';
import { subscribeLesions, type InvalidLesion, type LesionMeta, type LesionSubscription, type LesionSubscriptionStats } from '../client/subscribe_lesions.js';
import type { LesionMessage } from '../publish/wire_message.js';
import { isCredentialRefusal } from '../publish/connection.js';
import { redactUrl } from '../publish/connect_options.js';
import { BoundedSet, ClaimStore } from './claims.js';
import { FhirSender, silentLogger, type BridgeLogger, type FhirSenderStats } from './fhir_sender.js';
import { NdjsonSink } from './ndjson_sink.js';
import { messageIdOfObservation, toObservation } from './observation.js';
import { validateObservation } from './validate_observation.js';

export interface BridgeOptions {
  brokerUrl: string;
  /** NDJSON file of Observations (appended). */
  out: string;
  /** Shared-subscription group (default `dermstream-ehr`); `null` for a plain subscription. */
  group?: string | null;
  prefix?: string;
  /** One device, or all (`+`, default). */
  deviceId?: string;
  /** FHIR base URL; with it, each Observation is also POSTed to `<fhirUrl>/Observation`. */
  fhirUrl?: string;
  fhirTokenFile?: string;
  fhir?: { maxAttempts?: number; baseDelayMs?: number; maxDelayMs?: number; timeoutMs?: number; maxQueue?: number; fetch?: typeof fetch };
  /** Default: stable per host + output file, so a restarted worker gets its persistent session back. */
  clientId?: string;
  /** Broker-side session lifetime after a disconnect (default 7 days): unacknowledged verdicts wait there. */
  sessionExpirySec?: number;
  /** Shared de-duplication directory for the group (default `<dir of out>/.dermstream-bridge-<group>.claims`); `null` disables. */
  claimsDir?: string | null;
  claimStaleMs?: number;
  claimRetentionMs?: number;
  /** How many message ids this worker remembers (default 200 000). */
  dedupCapacity?: number;
  /** How much of the end of `out` is re-read on start (default 64 MiB). */
  scanBytes?: number;
  /** Invalid messages are kept here (default `<out>.rejected.ndjson`); `null` disables. */
  deadLetter?: string | null;
  deadLetterMaxBytes?: number;
  logger?: BridgeLogger;
  mqtt?: Partial<IClientOptions>;
  protocolVersion?: 4 | 5;
  /** Reject the start if not subscribed within this time (default 30 000 ms; 0 = keep retrying). */
  connectTimeoutMs?: number;
}

export interface BridgeStats {
  received: number;
  written: number;
  duplicates: { local: number; group: number };
  skipped: { notStable: number; notLesion: number };
  invalid: { json: number; schema: number; topic: number };
  /** Stable messages that could not become a valid Observation (dead-lettered). */
  mappingErrors: number;
  /** Claims of crashed/stalled workers taken over. */
  claimsTakenOver: number;
  /** Write failures: the message was not acknowledged (re-delivered). */
  writeErrors: number;
  deadLettered: number;
  deadLetterDropped: number;
  startup: { recoveredIds: number; tornBytes: number; fhirRequeued: number };
  subscription: LesionSubscriptionStats;
  fhir: FhirSenderStats | null;
  messagesPerSecond: number;
}

export interface Bridge {
  readonly clientId: string;
  readonly topic: string;
  readonly out: string;
  stats(): BridgeStats;
  /** Resolves when every queued Observation has reached the FHIR server (or failed); immediately without `fhirUrl`. */
  fhirIdle(): Promise<void>;
  close(): Promise<void>;
}

export function defaultBridgeClientId(group: string | null, out: string): string {
  const h = createHash('sha256').update(`${hostname()}\0${resolve(out)}`).digest('hex').slice(0, 12);
  return `dermstream-bridge-${(group ?? 'solo').replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 40)}-${h}`;
}

export async function startBridge(opts: BridgeOptions): Promise<Bridge> {
  const log = opts.logger ?? silentLogger;
  const group = opts.group === undefined ? 'dermstream-ehr' : opts.group;
  const out = resolve(opts.out);
  const clientId = opts.clientId ?? defaultBridgeClientId(group, out);
  const seen = new BoundedSet<string>(opts.dedupCapacity ?? 200_000);
  const started = Date.now();

  const counters = {
    received: 0,
    written: 0,
    duplicates: { local: 0, group: 0 },
    skipped: { notStable: 0, notLesion: 0 },
    mappingErrors: 0,
    claimsTakenOver: 0,
    writeErrors: 0,
    deadLettered: 0,
    deadLetterDropped: 0,
  };

  // --- durable record: the NDJSON file, its identifiers re-read (bounded) --------------------------------------
  const existing: { id: string; line: string }[] = [];
  const sink = await NdjsonSink.open(out, {
    scanBytes: opts.scanBytes,
    onExistingLine(line) {
      try {
        const id = messageIdOfObservation(JSON.parse(line));
        if (id) {
          seen.add(id);
          existing.push({ id, line });
          if (existing.length > seen.capacity) existing.shift();
        }
      } catch {
        /* not JSON: counted below via the sink info only */
      }
    },
  });
  const recoveredIds = seen.size;
  if (sink.info.tornBytes > 0) log.warn({ out, tornBytes: sink.info.tornBytes }, 'bridge: cut a partial last line (a crash during a write; that message was not acknowledged and comes again)');
  log.info({ out, ids: seen.size, lines: sink.info.existingLines, truncatedScan: sink.info.truncatedScan }, 'bridge: de-duplication record loaded from the output file');

  const deadLetterPath = opts.deadLetter === undefined ? `${out}.rejected.ndjson` : opts.deadLetter;
  const deadLetter = deadLetterPath ? await NdjsonSink.open(deadLetterPath, { scanBytes: 0 }) : null;
  const deadLetterMax = opts.deadLetterMaxBytes ?? 64 * 1024 * 1024;

  const claimsDir = opts.claimsDir === undefined ? (group ? join(dirname(out), `.dermstream-bridge-${group}.claims`) : null) : opts.claimsDir;
  const claims = claimsDir ? new ClaimStore(claimsDir, clientId, { staleMs: opts.claimStaleMs, retentionMs: opts.claimRetentionMs }) : null;
  if (claims) {
    const pruned = await claims.prune();
    if (pruned) log.info({ claimsDir, pruned }, 'bridge: pruned old de-duplication claims');
  }
  const pruneTimer = claims ? setInterval(() => void claims.prune().catch(() => undefined), 3600_000) : null;
  pruneTimer?.unref();

  // --- FHIR delivery, with the backlog of a previous run -------------------------------------------------------
  let fhir: FhirSender | null = null;
  let fhirRequeued = 0;
  if (opts.fhirUrl) {
    fhir = await FhirSender.open({
      baseUrl: opts.fhirUrl,
      tokenFile: opts.fhirTokenFile,
      journalPath: `${out}.fhir-journal.ndjson`,
      logger: log,
      ...opts.fhir,
    });
    for (const { id, line } of existing) {
      if (!fhir.isDone(id)) {
        fhir.enqueue(id, line);
        fhirRequeued++;
      }
    }
    if (fhirRequeued) log.info({ count: fhirRequeued }, 'bridge: re-queued observations not yet delivered to the FHIR server');
  }
  existing.length = 0;

  async function toDeadLetter(entry: object): Promise<void> {
    if (!deadLetter) return;
    if (deadLetter.size > deadLetterMax) {
      counters.deadLetterDropped++;
      return;
    }
    await deadLetter.append(JSON.stringify({ at: new Date().toISOString(), ...entry }));
    counters.deadLettered++;
  }

  async function onInvalid(bad: InvalidLesion): Promise<void> {
    counters.received++;
    log.warn({ reason: bad.reason, topic: bad.topic, errors: bad.errors.slice(0, 5), bytes: bad.meta.bytes }, 'bridge: invalid lesion message dropped');
    await toDeadLetter({ reason: bad.reason, topic: bad.topic, errors: bad.errors.slice(0, 20), payload: bad.payload });
  }

  async function onMessage(msg: LesionMessage, meta: LesionMeta): Promise<void> {
    counters.received++;
    if (msg.kind !== 'lesion') {
      counters.skipped.notLesion++;
      return;
    }
    if (msg.state !== 'stable') {
      counters.skipped.notStable++;
      return;
    }
    const id = msg.messageId;
    if (seen.has(id)) {
      counters.duplicates.local++;
      log.debug?.({ id, dup: meta.dup }, 'bridge: duplicate (already in this worker\'s output)');
      return;
    }
    if (claims) {
      const c = await claims.claim(id);
      if (c === 'taken') {
        counters.duplicates.group++;
        log.debug?.({ id }, 'bridge: duplicate (written by another worker of the group)');
        return;
      }
      if (c === 'stolen') {
        counters.claimsTakenOver++;
        log.warn({ id }, 'bridge: took over a claim another worker did not complete');
      }
    }
    let line: string;
    try {
      const obs = toObservation(msg);
      const check = validateObservation(obs);
      if (!check.ok) throw new Error(`Observation fails the FHIR R4 subset schema: ${check.errors.slice(0, 5).join('; ')}`);
      line = JSON.stringify(obs);
    } catch (err) {
      counters.mappingErrors++;
      log.error({ id, err: (err as Error).message }, 'bridge: could not map a stable verdict to an Observation (dead-lettered)');
      await toDeadLetter({ reason: 'mapping', topic: meta.topic, errors: [(err as Error).message], payload: JSON.stringify(msg) });
      await claims?.commit(id);
      return;
    }
    try {
      await sink.append(line);
    } catch (err) {
      counters.writeErrors++;
      log.error({ id, out, err: (err as Error).message }, 'bridge: could not write the observation; not acknowledged, the broker will send it again');
      throw err;
    }
    seen.add(id);
    counters.written++;
    await claims?.commit(id).catch((err: Error) => log.warn({ id, err: err.message }, 'bridge: could not commit the claim (another worker may write a duplicate after the stale timeout)'));
    fhir?.enqueue(id, line);
  }

  let sub: LesionSubscription;
  try {
    sub = await subscribeLesions({
      brokerUrl: opts.brokerUrl,
      prefix: opts.prefix,
      deviceId: opts.deviceId,
      group: group ?? undefined,
      kind: 'lesion',
      qos: 1,
      clientId,
      sessionExpirySec: opts.sessionExpirySec ?? 7 * 24 * 3600,
      protocolVersion: opts.protocolVersion,
      mqtt: opts.mqtt,
      ...(opts.connectTimeoutMs !== undefined && { connectTimeoutMs: opts.connectTimeoutMs }),
      onMessage,
      onInvalid,
      onError: (err) =>
        isCredentialRefusal(err)
          ? log.error({ err: err.message, brokerUrl: redactUrl(opts.brokerUrl) }, `bridge: the broker refused the credentials (${err.message}); fix --mqtt-username / --mqtt-password-file (or add the user to the broker); retrying with back-off`)
          : log.warn({ err: err.message }, 'bridge: mqtt'),
    });
  } catch (err) {
    if (pruneTimer) clearInterval(pruneTimer);
    await sink.close();
    await deadLetter?.close();
    await fhir?.close();
    throw err;
  }
  log.info({ brokerUrl: redactUrl(opts.brokerUrl), topic: sub.topic, clientId, out }, 'bridge: subscribed');

  let closed: Promise<void> | null = null;
  return {
    clientId,
    topic: sub.topic,
    out,
    stats(): BridgeStats {
      const s = sub.stats();
      const secs = Math.max(0.001, (Date.now() - started) / 1000);
      return {
        received: counters.received,
        written: counters.written,
        duplicates: { ...counters.duplicates },
        skipped: { ...counters.skipped },
        invalid: { ...s.invalid },
        mappingErrors: counters.mappingErrors,
        claimsTakenOver: counters.claimsTakenOver,
        writeErrors: counters.writeErrors,
        deadLettered: counters.deadLettered,
        deadLetterDropped: counters.deadLetterDropped,
        startup: { recoveredIds, tornBytes: sink.info.tornBytes, fhirRequeued },
        subscription: s,
        fhir: fhir?.stats() ?? null,
        messagesPerSecond: Math.round((counters.received / secs) * 10) / 10,
      };
    },
    fhirIdle: () => fhir?.idle() ?? Promise.resolve(),
    close() {
      closed ??= (async () => {
        if (pruneTimer) clearInterval(pruneTimer);
        await sub.close();
        await fhir?.close();
        await sink.close();
        await deadLetter?.close();
        log.info({ out: basename(out) }, 'bridge: closed');
      })();
      return closed;
    },
  };
}
