/**
 * The EHR bridge: one FHIR R4 Observation per lesion examination (episode), from MQTT to an NDJSON file and
 * optionally a FHIR server.
 *
 * Per message (one at a time per worker; `subscribeLesions` acknowledges it when this returns):
 *  1. parse + validate against the lesion schema (invalid → dead-letter file + counter, acknowledged: a re-send would
 *     not make it valid; the bridge keeps running);
 *  2. keep lesion messages of an episode (`episodeId`, schema 1.1.0); a 1.0.0 device has none (counted, logged once);
 *  3. under the episode's lock in the group's ledger (`episode_ledger.ts`, shared by the workers, on disk):
 *     - `ended` → the final Observation (`observation.ts`), unless one is written already: appended to this worker's
 *       NDJSON file and fdatasync'ed, then the ledger says `final` — only then is the MQTT message acknowledged, so
 *       a crash before that leaves it with the broker, which sends it again (persistent session, stable client id);
 *     - any other message of the episode → the ledger notes when it was seen, and the newest stable verdict;
 *  4. a scan (every `scanIntervalMs`) writes a preliminary Observation from the last stable verdict of each episode
 *     whose `ended` did not come in time (`preliminary_due.ts`: silence, or the device's status went offline); a
 *     later `ended` writes the final version of the same Observation (same `id` and identifier);
 *  5. each version is queued for the FHIR server (`fhir_sender.ts`: final as a conditional update, preliminary as a
 *     conditional create, off the acknowledgement path, with its own journal).
 *
 * Never two Observations for one episode: every version carries the same resource `id` and identifier (an NDJSON
 * reader keeps one resource per `id`, the `final` version over a `preliminary` one — with several workers the two
 * versions may be in different workers' files; the FHIR server matches on the identifier), the ledger's written state only
 * moves forward (none → preliminary → final) under the lock, and a worker re-reads its own NDJSON at start (local
 * de-duplication, and repair of a ledger write a crash cut off).
 *
 * Broker: MQTT 5 with a shared subscription when the broker has it; on a 3.1.1-only broker (aedes) the bridge falls
 * back to a plain subscription with one worker (`mqtt5_fallback.ts`, logged as a warning).
 *
 * Operating notes (measured against Mosquitto 2.0.11):
 * - Each worker has a persistent session (clean start off, session expiry 7 days by default) under a client id that
 *   is stable per host and output file, so messages it had not acknowledged when it crashed are sent to it again
 *   when it comes back.
 * - Mosquitto keeps routing a share group's messages round-robin to members whose persistent session is offline:
 *   while a crashed worker is down, its share of new messages waits in its session until it returns. Run workers
 *   under a supervisor that restarts them (systemd `Restart=always`); a worker that stops cleanly unsubscribes first.
 *   An `ended` message waiting in a dead worker's session is why the preliminary path exists: the other workers
 *   write the preliminary Observation, the returning worker updates it to final.
 * - All workers of a group must see the same ledger directory (same host, or a shared filesystem).
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import type { IClientOptions } from 'mqtt';
import { subscribeLesions, type InvalidLesion, type LesionMeta, type LesionSubscription, type LesionSubscriptionStats } from '../client/subscribe_lesions.js';
import type { LesionMessage } from '../publish/wire_message.js';
import { isCredentialRefusal } from '../publish/connection.js';
import { redactUrl } from '../publish/connect_options.js';
import { BoundedSet } from './bounded_set.js';
import { watchDeviceStatus, type DeviceStatusWatch } from './device_status.js';
import { SnapshotCache } from './snapshot_cache.js';
import { EpisodeLedger, newRecord, WRITTEN_RANK, type EpisodeRecord } from './episode_ledger.js';
import { episodeIdOf, isEnded, summaryOf } from './episode_message.js';
import { FhirSender, silentLogger, type BridgeLogger, type FhirSenderStats } from './fhir_sender.js';
import { planSubscription } from './mqtt5_fallback.js';
import { NdjsonSink } from './ndjson_sink.js';
import { episodeIdOfObservation, statusOfObservation, toObservation, type ObservationOptions } from './observation.js';
import { DEFAULT_TIMING, preliminaryDue } from './preliminary_due.js';
import { validateObservation, warmObservationValidator } from './validate_observation.js';

export interface BridgeOptions {
  brokerUrl: string;
  /** NDJSON file of Observations (appended; a later line with the same `id` is a newer version of that Observation). */
  out: string;
  /** Shared-subscription group (default `dermstream-ehr`); `null` for a plain subscription. */
  group?: string | null;
  prefix?: string;
  /** One device, or all (`+`, default). */
  deviceId?: string;
  /** FHIR base URL; with it, each Observation version is also sent to `<fhirUrl>/Observation` (see fhir_sender.ts). */
  fhirUrl?: string;
  fhirTokenFile?: string;
  fhir?: { maxAttempts?: number; baseDelayMs?: number; maxDelayMs?: number; timeoutMs?: number; maxQueue?: number; fetch?: typeof fetch };
  /** Default: stable per host + output file, so a restarted worker gets its persistent session back. */
  clientId?: string;
  /** Broker-side session lifetime after a disconnect (default 7 days): unacknowledged messages wait there. */
  sessionExpirySec?: number;
  /**
   * The group's shared episode ledger (default `<dir of out>/.dermstream-bridge-<group>.claims`); `null`: a ledger
   * of this worker's own (`<out>.episodes`), for a single worker.
   */
  claimsDir?: string | null;
  /** A ledger lock not refreshed for this long belongs to a dead worker (default 10 000 ms). */
  claimStaleMs?: number;
  claimRetentionMs?: number;
  /** How many (episode, status) keys this worker remembers from its own file (default 200 000). */
  dedupCapacity?: number;
  /** How much of the end of `out` is re-read on start (default 64 MiB). */
  scanBytes?: number;
  /** Invalid messages are kept here (default `<out>.rejected.ndjson`); `null` disables. */
  deadLetter?: string | null;
  deadLetterMaxBytes?: number;
  /** No `ended` this long after the last message of an episode → preliminary Observation (default 15 000 ms). */
  provisionalAfterMs?: number;
  /** After the device's status says offline, wait this long for an `ended` before the preliminary (default 2000 ms). */
  offlineGraceMs?: number;
  /** How often the ledger is scanned for episodes that are due (default 1000 ms, at most provisionalAfterMs / 4). */
  scanIntervalMs?: number;
  /** Watch `<prefix>/+/status` for devices going offline and `<prefix>/+/snapshot` for best frames (default true). */
  watchStatus?: boolean;
  observation?: ObservationOptions;
  logger?: BridgeLogger;
  mqtt?: Partial<IClientOptions>;
  /** Force a protocol (default: MQTT 5 if the broker has it, else 3.1.1 with a plain subscription). */
  protocolVersion?: 4 | 5;
  /** Reject the start if not subscribed within this time (default 30 000 ms; 0 = keep retrying). */
  connectTimeoutMs?: number;
  now?: () => number;
}

export interface BridgeStats {
  received: number;
  /** Observation versions appended to this worker's file (final + preliminary). */
  written: number;
  writtenBy: { final: number; preliminary: number; finalAfterPreliminary: number };
  duplicates: { local: number; group: number };
  skipped: { notLesion: number; noEpisode: number; afterFinal: number };
  invalid: { json: number; schema: number; topic: number };
  /** Episode messages that could not become a valid Observation (dead-lettered). */
  mappingErrors: number;
  /** Write failures: the message was not acknowledged (re-delivered). */
  writeErrors: number;
  deadLettered: number;
  deadLetterDropped: number;
  startup: { recoveredIds: number; tornBytes: number; fhirRequeued: number; ledgerRepaired: number };
  subscription: LesionSubscriptionStats;
  protocolVersion: 4 | 5;
  shared: boolean;
  fhir: FhirSenderStats | null;
  messagesPerSecond: number;
}

export interface Bridge {
  readonly clientId: string;
  readonly topic: string;
  readonly out: string;
  readonly ledgerDir: string;
  stats(): BridgeStats;
  /** Runs the preliminary scan now (tests; it also runs every `scanIntervalMs`). */
  scanNow(): Promise<void>;
  /** Resolves when every queued Observation has reached the FHIR server (or failed); immediately without `fhirUrl`. */
  fhirIdle(): Promise<void>;
  close(): Promise<void>;
}

export function defaultBridgeClientId(group: string | null, out: string): string {
  const h = createHash('sha256').update(`${hostname()}\0${resolve(out)}`).digest('hex').slice(0, 12);
  return `dermstream-bridge-${(group ?? 'solo').replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 40)}-${h}`;
}

/** The key of one version of an episode's Observation in the local record and the FHIR journal. */
const keyOf = (episodeId: string, status: 'final' | 'preliminary') => `${episodeId}|${status}`;

/** How many of the last lines of the file are checked against the ledger at start (a crash cuts off at most the last writes). */
const REPAIR_LINES = 32;

export async function startBridge(opts: BridgeOptions): Promise<Bridge> {
  const log = opts.logger ?? silentLogger;
  const now = opts.now ?? Date.now;
  const requestedGroup = opts.group === undefined ? 'dermstream-ehr' : opts.group;
  const prefix = opts.prefix ?? 'dermstream';
  const out = resolve(opts.out);
  const clientId = opts.clientId ?? defaultBridgeClientId(requestedGroup, out);
  const seen = new BoundedSet<string>(opts.dedupCapacity ?? 200_000);
  const started = now();
  const timing = { provisionalAfterMs: opts.provisionalAfterMs ?? DEFAULT_TIMING.provisionalAfterMs, offlineGraceMs: opts.offlineGraceMs ?? DEFAULT_TIMING.offlineGraceMs };
  const scanEvery = Math.max(50, Math.min(opts.scanIntervalMs ?? 1000, timing.provisionalAfterMs / 4));

  const counters = {
    received: 0,
    written: 0,
    writtenBy: { final: 0, preliminary: 0, finalAfterPreliminary: 0 },
    duplicates: { local: 0, group: 0 },
    skipped: { notLesion: 0, noEpisode: 0, afterFinal: 0 },
    mappingErrors: 0,
    writeErrors: 0,
    deadLettered: 0,
    deadLetterDropped: 0,
  };

  const t0 = performance.now();
  warmObservationValidator();
  log.info({ ms: Math.round(performance.now() - t0) }, 'bridge: HL7 FHIR R4 schema compiled');

  // --- durable record: the NDJSON file, its (episode, status) keys re-read (bounded) ---------------------------
  const existing: { key: string; episodeId: string; status: 'final' | 'preliminary'; line: string }[] = [];
  const sink = await NdjsonSink.open(out, {
    scanBytes: opts.scanBytes,
    onExistingLine(line) {
      try {
        const obs = JSON.parse(line);
        const episodeId = episodeIdOfObservation(obs);
        const status = statusOfObservation(obs);
        if (episodeId && status) {
          const key = keyOf(episodeId, status);
          seen.add(key);
          existing.push({ key, episodeId, status, line });
          if (existing.length > seen.capacity) existing.shift();
        }
      } catch {
        /* not JSON: the sink counts lines only */
      }
    },
  });
  const recoveredIds = seen.size;
  if (sink.info.tornBytes > 0) log.warn({ out, tornBytes: sink.info.tornBytes }, 'bridge: cut a partial last line (a crash during a write; that message was not acknowledged and comes again)');
  log.info({ out, keys: seen.size, lines: sink.info.existingLines, truncatedScan: sink.info.truncatedScan }, 'bridge: de-duplication record loaded from the output file');

  const deadLetterPath = opts.deadLetter === undefined ? `${out}.rejected.ndjson` : opts.deadLetter;
  const deadLetter = deadLetterPath ? await NdjsonSink.open(deadLetterPath, { scanBytes: 0 }) : null;
  const deadLetterMax = opts.deadLetterMaxBytes ?? 64 * 1024 * 1024;

  const ledgerDir =
    opts.claimsDir === undefined ? (requestedGroup ? join(dirname(out), `.dermstream-bridge-${requestedGroup}.claims`) : `${out}.episodes`) : (opts.claimsDir ?? `${out}.episodes`);
  const ledger = new EpisodeLedger(ledgerDir, clientId, { staleMs: opts.claimStaleMs, retentionMs: opts.claimRetentionMs, now });
  const pruned = await ledger.prune();
  if (pruned) log.info({ ledgerDir, pruned }, 'bridge: pruned old episode records');

  // A crash after the NDJSON write and before the ledger update leaves the ledger behind this worker's file.
  let ledgerRepaired = 0;
  for (const e of existing.slice(-REPAIR_LINES)) {
    await ledger.withEpisode(e.episodeId, async (rec) => {
      if (rec && WRITTEN_RANK[rec.written] >= WRITTEN_RANK[e.status]) return { result: undefined };
      ledgerRepaired++;
      const base: EpisodeRecord = rec ?? { episodeId: e.episodeId, deviceId: '', lastStable: null, lastSeenAt: now(), written: 'none', writtenBy: null, writtenAt: null };
      return { next: { ...base, written: e.status, writtenBy: clientId, writtenAt: now() }, result: undefined };
    });
  }
  if (ledgerRepaired) log.warn({ ledgerRepaired }, 'bridge: the episode ledger was behind this worker\'s file (a crash between write and record): repaired');

  // --- FHIR delivery, with the backlog of a previous run -------------------------------------------------------
  let fhir: FhirSender | null = null;
  let fhirRequeued = 0;
  if (opts.fhirUrl) {
    fhir = await FhirSender.open({
      baseUrl: opts.fhirUrl,
      tokenFile: opts.fhirTokenFile,
      journalPath: `${out}.fhir-journal.ndjson`,
      logger: log,
      stillWanted: async (episodeId) => (await ledger.peek(episodeId))?.written !== 'final',
      ...opts.fhir,
    });
    const finals = new Set(existing.filter((e) => e.status === 'final').map((e) => e.episodeId));
    for (const e of existing) {
      if (e.status === 'preliminary' && finals.has(e.episodeId)) continue; // superseded: the final replaces it
      if (!fhir.isDone(e.key)) {
        fhir.enqueue(e.key, e.episodeId, e.status === 'final' ? 'update' : 'create', e.line);
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
    await deadLetter.append(JSON.stringify({ at: new Date(now()).toISOString(), ...entry }));
    counters.deadLettered++;
  }

  async function onInvalid(bad: InvalidLesion): Promise<void> {
    counters.received++;
    log.warn({ reason: bad.reason, topic: bad.topic, errors: bad.errors.slice(0, 5), bytes: bad.meta.bytes }, 'bridge: invalid lesion message dropped');
    await toDeadLetter({ reason: bad.reason, topic: bad.topic, errors: bad.errors.slice(0, 20), payload: bad.payload });
  }

  const snapshots = new SnapshotCache();
  /** The snapshot nearest to the episode's best frame (final) or to the verdict frame (preliminary), within the episode. */
  function snapshotFor(msg: LesionMessage) {
    const ep = summaryOf(msg);
    if (ep) {
      if (ep.bestFrameSeq === null) return null;
      return snapshots.nearest(msg.deviceId, msg.sessionId, ep.bestFrameSeq, Date.parse(ep.startedAt), Date.parse(ep.endedAt));
    }
    return snapshots.nearest(msg.deviceId, msg.sessionId, msg.frame.seq, msg.frame.capturedAtMs - 10_000, msg.frame.capturedAtMs);
  }

  /** The Observation line for `msg`, or null (dead-lettered) when it cannot be a valid one. */
  async function observationLine(msg: LesionMessage, topic: string): Promise<string | null> {
    try {
      const obs = toObservation(msg, opts.observation, { snapshot: snapshotFor(msg) });
      const check = validateObservation(obs);
      if (!check.ok) throw new Error(`Observation fails the HL7 FHIR R4 schema: ${check.errors.slice(0, 5).join('; ')}`);
      return JSON.stringify(obs);
    } catch (err) {
      counters.mappingErrors++;
      log.error({ id: msg.messageId, err: (err as Error).message }, 'bridge: could not map an episode to an Observation (dead-lettered)');
      await toDeadLetter({ reason: 'mapping', topic, errors: [(err as Error).message], payload: JSON.stringify(msg) });
      return null;
    }
  }

  /** Appends and fdatasyncs one version; throws (message not acknowledged) when the disk refuses. */
  async function append(line: string, episodeId: string, status: 'final' | 'preliminary'): Promise<void> {
    try {
      await sink.append(line);
    } catch (err) {
      counters.writeErrors++;
      log.error({ episodeId, status, out, err: (err as Error).message }, 'bridge: could not write the observation; not acknowledged, the broker will send it again');
      throw err;
    }
    const key = keyOf(episodeId, status);
    seen.add(key);
    counters.written++;
    fhir?.enqueue(key, episodeId, status === 'final' ? 'update' : 'create', line);
  }

  const noEpisodeWarned = new Set<string>();

  async function onMessage(msg: LesionMessage, meta: LesionMeta): Promise<void> {
    counters.received++;
    if (msg.kind !== 'lesion') {
      counters.skipped.notLesion++;
      return;
    }
    const episodeId = episodeIdOf(msg);
    if (!episodeId) {
      counters.skipped.noEpisode++;
      if (msg.state !== 'searching' && !noEpisodeWarned.has(msg.deviceId)) {
        noEpisodeWarned.add(msg.deviceId);
        log.warn({ deviceId: msg.deviceId, schema: msg.schema.version }, 'bridge: this device sends lesion messages without episodes (schema 1.0.0): nothing is written for it until it is updated to 1.1.0');
      }
      return;
    }
    if (seen.has(keyOf(episodeId, 'final'))) {
      if (isEnded(msg)) counters.duplicates.local++;
      else counters.skipped.afterFinal++;
      return;
    }
    if (isEnded(msg)) {
      await ledger.withEpisode(episodeId, async (rec) => {
        if (rec?.written === 'final') {
          counters.duplicates.group++;
          return { result: undefined };
        }
        const base = rec ?? newRecord(msg, episodeId, now());
        const line = await observationLine(msg, meta.topic);
        if (line === null) return { next: { ...base, lastStable: null }, result: undefined }; // no preliminary for it either
        await append(line, episodeId, 'final');
        counters.writtenBy.final++;
        if (rec?.written === 'preliminary') counters.writtenBy.finalAfterPreliminary++;
        log.info({ episodeId, after: rec?.written ?? 'none' }, rec?.written === 'preliminary' ? 'bridge: episode ended late: preliminary observation updated to final' : 'bridge: episode observation written (final)');
        return { next: { ...base, lastSeenAt: now(), written: 'final', writtenBy: clientId, writtenAt: now() }, result: undefined };
      });
      return;
    }
    // Another message of an open episode: when it was seen, and its newest stable verdict.
    await ledger.withEpisode(episodeId, async (rec) => {
      if (rec?.written === 'final') {
        counters.skipped.afterFinal++;
        return { result: undefined };
      }
      const base = rec ?? newRecord(msg, episodeId, now());
      const newer = msg.state === 'stable' && msg.label !== null && (base.lastStable === null || base.lastStable.sessionId !== msg.sessionId || msg.seq > base.lastStable.seq);
      return { next: { ...base, lastSeenAt: Math.max(base.lastSeenAt, now()), lastStable: newer ? msg : base.lastStable }, result: undefined };
    });
  }

  // --- the subscription (MQTT 5 + share group, or the 3.1.1 fallback) -------------------------------------------
  const plan = await planSubscription(opts.brokerUrl, requestedGroup, opts.mqtt, log, opts.protocolVersion);
  let sub: LesionSubscription;
  let status: DeviceStatusWatch | null = null;
  try {
    sub = await subscribeLesions({
      brokerUrl: opts.brokerUrl,
      prefix,
      deviceId: opts.deviceId,
      group: plan.group ?? undefined,
      kind: 'lesion',
      qos: 1,
      clientId,
      sessionExpirySec: opts.sessionExpirySec ?? 7 * 24 * 3600,
      protocolVersion: plan.protocolVersion,
      mqtt: opts.mqtt,
      ...(opts.connectTimeoutMs !== undefined && { connectTimeoutMs: opts.connectTimeoutMs }),
      onMessage,
      onInvalid,
      onError: (err) =>
        isCredentialRefusal(err)
          ? log.error({ err: err.message, brokerUrl: redactUrl(opts.brokerUrl) }, `bridge: the broker refused the credentials (${err.message}); fix --mqtt-username / --mqtt-password-file (or add the user to the broker); retrying with back-off`)
          : log.warn({ err: err.message }, 'bridge: mqtt'),
    });
    if (opts.watchStatus !== false) status = watchDeviceStatus({ brokerUrl: opts.brokerUrl, prefix, protocolVersion: plan.protocolVersion, mqtt: opts.mqtt, now, snapshots });
  } catch (err) {
    await sink.close();
    await deadLetter?.close();
    await fhir?.close();
    throw err;
  }
  log.info({ brokerUrl: redactUrl(opts.brokerUrl), topic: sub.topic, clientId, out, ledgerDir, protocolVersion: plan.protocolVersion, shared: plan.group !== null }, 'bridge: subscribed');

  // --- preliminary Observations for episodes whose end did not come ----------------------------------------------
  let scanning: Promise<void> | null = null;
  let closing = false;
  async function scanOnce(): Promise<void> {
    for (const episodeId of await ledger.openEpisodes()) {
      if (closing) return;
      const peeked = await ledger.peek(episodeId).catch(() => null);
      if (!peeked) continue;
      if (!preliminaryDue(peeked, now(), status?.offlineSince(peeked.deviceId) ?? null, timing).due) continue;
      await ledger.withEpisode(episodeId, async (rec) => {
        if (!rec) return { result: undefined };
        const decision = preliminaryDue(rec, now(), status?.offlineSince(rec.deviceId) ?? null, timing);
        if (!decision.due) return { result: undefined };
        const line = await observationLine(rec.lastStable!, `${prefix}/${rec.deviceId}/lesion`);
        if (line === null) return { next: { ...rec, lastStable: null }, result: undefined };
        await append(line, episodeId, 'preliminary');
        counters.writtenBy.preliminary++;
        log.warn({ episodeId, deviceId: rec.deviceId, why: decision.why, silentMs: now() - rec.lastSeenAt }, 'bridge: no end of examination from the device: preliminary observation written from its last stable verdict');
        return { next: { ...rec, written: 'preliminary', writtenBy: clientId, writtenAt: now() }, result: undefined };
      });
    }
  }
  const scanNow = (): Promise<void> => {
    scanning ??= scanOnce()
      .catch((err: Error) => log.warn({ err: err.message }, 'bridge: preliminary scan failed (tried again at the next scan)'))
      .finally(() => {
        scanning = null;
      });
    return scanning;
  };
  const scanTimer = setInterval(() => void scanNow(), scanEvery);
  scanTimer.unref();
  const pruneTimer = setInterval(() => void ledger.prune().catch(() => undefined), 3600_000);
  pruneTimer.unref();

  let closed: Promise<void> | null = null;
  return {
    clientId,
    topic: sub.topic,
    out,
    ledgerDir,
    scanNow,
    stats(): BridgeStats {
      const s = sub.stats();
      const secs = Math.max(0.001, (now() - started) / 1000);
      return {
        received: counters.received,
        written: counters.written,
        writtenBy: { ...counters.writtenBy },
        duplicates: { ...counters.duplicates },
        skipped: { ...counters.skipped },
        invalid: { ...s.invalid },
        mappingErrors: counters.mappingErrors,
        writeErrors: counters.writeErrors,
        deadLettered: counters.deadLettered,
        deadLetterDropped: counters.deadLetterDropped,
        startup: { recoveredIds, tornBytes: sink.info.tornBytes, fhirRequeued, ledgerRepaired },
        subscription: s,
        protocolVersion: plan.protocolVersion,
        shared: plan.group !== null,
        fhir: fhir?.stats() ?? null,
        messagesPerSecond: Math.round((counters.received / secs) * 10) / 10,
      };
    },
    fhirIdle: () => fhir?.idle() ?? Promise.resolve(),
    close() {
      closed ??= (async () => {
        closing = true;
        clearInterval(scanTimer);
        clearInterval(pruneTimer);
        await scanning;
        await sub.close();
        await status?.close();
        await fhir?.close();
        await sink.close();
        await deadLetter?.close();
        log.info({ out: basename(out) }, 'bridge: closed');
      })();
      return closed;
    },
  };
}
