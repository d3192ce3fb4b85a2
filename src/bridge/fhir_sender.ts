/**
 * Delivers episode Observations to a FHIR R4 server, keyed on the episode identifier so a re-send — after a retry,
 * a restart, or from another worker — never makes a second resource:
 * - final: conditional update `PUT <base>/Observation?identifier=urn:dermstream:episode|<id>` (creates it when
 *   absent, replaces the preliminary version when present);
 * - preliminary: conditional create `POST <base>/Observation` with `If-None-Exist: identifier=…`, so a preliminary
 *   that reaches the server after the final (two workers, a retry) finds it there and changes nothing.
 * The body is sent without the NDJSON record's `id`: the server owns resource ids; the identifier is the key.
 *
 * Retries: network errors, timeouts, 5xx, 408 and 429 are retried with exponential back-off and jitter (delay
 * `base·2^(n-1)`, half of it fixed and half random, capped at `maxDelayMs`; a `Retry-After` header — seconds or an
 * HTTP date — is honoured instead, up to `maxRetryAfterMs`), at most `maxAttempts` attempts. Any other 4xx is a
 * rejection: not retried (the same request would be refused again), logged with the server's OperationOutcome and
 * counted. An Observation that used all its attempts is logged and counted as `failed`.
 *
 * The NDJSON file is the durable record; delivery has its own journal (`<out>.fhir-journal.ndjson`, one line per
 * final outcome: created / exists / rejected). On start the bridge re-queues every Observation of the NDJSON tail that
 * the journal does not list — including ones that `failed` — so nothing written is left undelivered by a crash or an
 * outage longer than the retries. The journal is appended without fsync: a lost journal line costs one idempotent
 * re-send, nothing more. Delivery is off the MQTT acknowledgement path: a slow EHR never holds up the broker.
 */
import { appendFile, readFile, stat } from 'node:fs/promises';
import { setTimeout as delayFor } from 'node:timers/promises';
import type { Observation } from 'fhir/r4.js';
import { EPISODE_ID_SYSTEM } from './observation.js';
import type { Logger } from '../types/logger.js';

export type BridgeLogger = Logger;

export const silentLogger: BridgeLogger = { info() {}, warn() {}, error() {} };

export interface FhirSenderOptions {
  /** FHIR base URL, e.g. `https://ehr.example/fhir` (the Observation endpoint is `<base>/Observation`). */
  baseUrl: string;
  /** File holding a bearer token; re-read when it changes (rotation). */
  tokenFile?: string;
  /** Outcome journal (NDJSON). */
  journalPath: string;
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  maxRetryAfterMs?: number;
  /** Per request (default 15 000 ms). */
  timeoutMs?: number;
  /** Observations waiting in memory; beyond this they wait for the next start (counted as `deferred`). */
  maxQueue?: number;
  logger?: BridgeLogger;
  /**
   * Asked before each attempt of a conditional create (a preliminary version): false when the final version is
   * written already (the bridge asks its episode ledger), so a preliminary delayed by retries is not sent at all —
   * it would change nothing on a server that has the final, and could race the final's create on one that has not.
   */
  stillWanted?: (episodeId: string) => Promise<boolean>;
  /** For tests. */
  fetch?: typeof fetch;
  random?: () => number;
}

export type FhirOutcome = 'created' | 'exists' | 'updated' | 'rejected' | 'superseded';

/** `update`: conditional update (PUT on the identifier); `create`: conditional create (POST with If-None-Exist). */
export type FhirWrite = 'update' | 'create';

export interface FhirSenderStats {
  queued: number;
  inFlight: number;
  /** 201 Created. */
  created: number;
  /** 200 OK to the conditional create: the server already had it. */
  exists: number;
  /** 200 OK to the conditional update: an existing resource replaced. */
  updated: number;
  /** 4xx other than 408/429: not retried. */
  rejected: number;
  /** Preliminary versions not sent because the final was written meanwhile (`stillWanted`). */
  superseded: number;
  /** Attempts used up (re-queued at the next start). */
  failed: number;
  /** Re-sends after a retryable failure. */
  retries: number;
  /** Not queued because the queue was full (delivered after the next start). */
  deferred: number;
  lastError: string | null;
}

interface Job {
  /** Journal key: `<episodeId>|<status>`. */
  id: string;
  episodeId: string;
  write: FhirWrite;
  body: string;
}


/** `Retry-After`: delta-seconds or an HTTP date; ms from now, or null. */
export function parseRetryAfter(value: string | null, nowMs = Date.now()): number | null {
  if (!value) return null;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  return Number.isFinite(t) ? Math.max(0, t - nowMs) : null;
}

/** Exponential back-off with "equal jitter": attempt 1 → [base/2, base), 2 → [base, 2·base), … capped. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const d = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(d / 2 + random() * (d / 2));
}

/** The search that identifies an episode's Observation (`identifier=<system>|<episodeId>`, URL-encoded). */
export function identifierQueryOf(episodeId: string): string {
  return `identifier=${encodeURIComponent(`${EPISODE_ID_SYSTEM}|${episodeId}`)}`;
}

/** The record without its NDJSON `id` (the server assigns resource ids). */
function bodyFor(obs: Observation | string): string {
  const o = (typeof obs === 'string' ? JSON.parse(obs) : { ...obs }) as Observation;
  delete o.id;
  return JSON.stringify(o);
}

export class FhirSender {
  private readonly queue: Job[] = [];
  private readonly queuedIds = new Set<string>();
  private readonly done: Set<string>;
  private running = false;
  private closing = false;
  private readonly stopping = new AbortController();
  private idleWaiters: (() => void)[] = [];
  private token: { mtimeMs: number; value: string } | null = null;
  private readonly s: FhirSenderStats = { queued: 0, inFlight: 0, created: 0, exists: 0, updated: 0, rejected: 0, superseded: 0, failed: 0, retries: 0, deferred: 0, lastError: null };
  private readonly log: BridgeLogger;
  private readonly fetchFn: typeof fetch;
  private readonly random: () => number;
  private readonly endpoint: string;

  private constructor(
    private readonly opts: FhirSenderOptions,
    done: Set<string>,
  ) {
    this.done = done;
    this.log = opts.logger ?? silentLogger;
    this.fetchFn = opts.fetch ?? fetch;
    this.random = opts.random ?? Math.random;
    this.endpoint = `${opts.baseUrl.replace(/\/+$/, '')}/Observation`;
  }

  static async open(opts: FhirSenderOptions): Promise<FhirSender> {
    const done = new Set<string>();
    try {
      for (const line of (await readFile(opts.journalPath, 'utf8')).split('\n')) {
        if (!line) continue;
        try {
          const rec = JSON.parse(line) as { id?: string };
          if (typeof rec.id === 'string') done.add(rec.id);
        } catch {
          /* torn last line */
        }
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    return new FhirSender(opts, done);
  }

  /** Has this message id reached a final outcome (created, exists or rejected)? */
  isDone(id: string): boolean {
    return this.done.has(id);
  }

  stats(): FhirSenderStats {
    return { ...this.s, queued: this.queue.length };
  }

  /** Queues one version of an episode's Observation under its journal key (`<episodeId>|<status>`). */
  enqueue(id: string, episodeId: string, write: FhirWrite, obs: Observation | string): void {
    if (this.done.has(id) || this.queuedIds.has(id) || this.closing) return;
    if (this.queue.length >= (this.opts.maxQueue ?? 10_000)) {
      this.s.deferred++;
      return;
    }
    this.queue.push({ id, episodeId, write, body: bodyFor(obs) });
    this.queuedIds.add(id);
    void this.run();
  }

  /** Resolves when the queue is empty and nothing is in flight. */
  idle(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Stops after the request in flight (queued ones are sent after the next start). */
  async close(): Promise<void> {
    this.closing = true;
    this.stopping.abort();
    this.queue.length = 0;
    this.queuedIds.clear();
    await this.idle();
  }

  private async authHeader(): Promise<Record<string, string>> {
    if (!this.opts.tokenFile) return {};
    const st = await stat(this.opts.tokenFile);
    if (!this.token || this.token.mtimeMs !== st.mtimeMs) {
      this.token = { mtimeMs: st.mtimeMs, value: (await readFile(this.opts.tokenFile, 'utf8')).trim() };
    }
    return this.token.value ? { authorization: `Bearer ${this.token.value}` } : {};
  }

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.queue.length > 0 && !this.closing) {
        const job = this.queue.shift()!;
        this.s.inFlight = 1;
        try {
          await this.deliver(job);
        } catch (err) {
          this.s.lastError = (err as Error).message;
          this.log.error({ err: (err as Error).message, id: job.id }, 'fhir: delivery failed unexpectedly');
        } finally {
          this.s.inFlight = 0;
          this.queuedIds.delete(job.id);
        }
      }
    } finally {
      this.running = false;
      const w = this.idleWaiters;
      this.idleWaiters = [];
      for (const r of w) r();
    }
  }

  private async record(id: string, outcome: FhirOutcome, status: number, location: string | null): Promise<void> {
    this.done.add(id);
    try {
      await appendFile(this.opts.journalPath, `${JSON.stringify({ id, outcome, status, location, at: new Date().toISOString() })}\n`);
    } catch (err) {
      this.log.warn({ err: (err as Error).message, path: this.opts.journalPath }, 'fhir: could not append to the delivery journal (a restart will re-send, idempotently)');
    }
  }

  private async deliver(job: Job): Promise<void> {
    const maxAttempts = Math.max(1, this.opts.maxAttempts ?? 6);
    const baseDelay = this.opts.baseDelayMs ?? 500;
    const maxDelay = this.opts.maxDelayMs ?? 30_000;
    const maxRetryAfter = this.opts.maxRetryAfterMs ?? 300_000;
    for (let attempt = 1; ; attempt++) {
      let retryAfter: number | null = null;
      let why: string;
      if (job.write === 'create' && this.opts.stillWanted && !(await this.opts.stillWanted(job.episodeId).catch(() => true))) {
        this.s.superseded++;
        await this.record(job.id, 'superseded', 0, null);
        this.log.info({ id: job.id }, 'fhir: preliminary observation not sent: its final version is written');
        return;
      }
      try {
        const query = identifierQueryOf(job.episodeId);
        const res = await this.fetchFn(job.write === 'update' ? `${this.endpoint}?${query}` : this.endpoint, {
          method: job.write === 'update' ? 'PUT' : 'POST',
          headers: {
            'content-type': 'application/fhir+json',
            accept: 'application/fhir+json',
            ...(job.write === 'create' ? { 'if-none-exist': query } : {}),
            ...(await this.authHeader()),
          },
          body: job.body,
          signal: AbortSignal.timeout(this.opts.timeoutMs ?? 15_000),
        });
        const text = await res.text().catch(() => '');
        if (res.status === 201 || res.status === 200) {
          const outcome: FhirOutcome = res.status === 201 ? 'created' : job.write === 'update' ? 'updated' : 'exists';
          this.s[outcome]++;
          await this.record(job.id, outcome, res.status, res.headers.get('location'));
          this.log.info({ id: job.id, status: res.status, attempt, location: res.headers.get('location') }, `fhir: observation ${outcome}`);
          return;
        }
        if (res.status >= 200 && res.status < 300) {
          // Another 2xx (e.g. 202 Accepted): accepted by the server, nothing to retry.
          this.s.created++;
          await this.record(job.id, 'created', res.status, res.headers.get('location'));
          return;
        }
        const retryable = res.status >= 500 || res.status === 429 || res.status === 408;
        if (!retryable) {
          this.s.rejected++;
          this.s.lastError = `HTTP ${res.status}`;
          await this.record(job.id, 'rejected', res.status, null);
          this.log.error({ id: job.id, status: res.status, attempt, response: text.slice(0, 2000) }, 'fhir: observation rejected (not retried)');
          return;
        }
        retryAfter = parseRetryAfter(res.headers.get('retry-after'));
        why = `HTTP ${res.status}`;
      } catch (err) {
        why = (err as Error).name === 'TimeoutError' ? 'timeout' : `${(err as Error).message}${(err as { cause?: Error }).cause ? ` (${(err as { cause: Error }).cause.message})` : ''}`;
      }
      this.s.lastError = why;
      if (attempt >= maxAttempts || this.closing) {
        this.s.failed++;
        this.log.error({ id: job.id, attempts: attempt, error: why }, 'fhir: delivery failed after the last attempt; it is re-queued at the next start');
        return;
      }
      const delay = retryAfter !== null ? Math.min(retryAfter, maxRetryAfter) : backoffDelay(attempt, baseDelay, maxDelay, this.random);
      this.s.retries++;
      this.log.warn({ id: job.id, attempt, error: why, retryInMs: delay }, 'fhir: delivery failed, retrying');
      await delayFor(delay, undefined, { signal: this.stopping.signal }).catch(() => undefined);
      if (this.closing) return; // not journaled: re-sent after the next start
    }
  }
}
