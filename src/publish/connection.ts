/**
 * The publisher's MQTT connection: one mqtt.js client at a time, its state as an observable, and what to do when
 * the broker says no.
 *
 * - Refused credentials (CONNACK "Not authorized" / "Bad user name or password"): mqtt.js stops reconnecting after
 *   a refused CONNACK unless `reconnectOnConnackError` is set, so one refusal used to leave the device offline for
 *   good (37 verdicts stuck in the outbox after the user was added). We set it and space the attempts with the
 *   project's back-off (src/shared/backoff.ts), which also spaces reconnects after socket errors; the state carries a
 *   `problem` that names the key to fix, and a connect clears it.
 * - Refused protocol level (aedes, the embedded broker, refuses MQTT 5): with `protocolVersion: 'auto'` the
 *   connection starts again with 3.1.1 and stays with it.
 * - Problems found elsewhere (the outbox pump's PUBACK 135) are set here too, so one observable says whether the
 *   device can deliver.
 */
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { BehaviorSubject, type Observable } from 'rxjs';
import { backoffDelayMs, backoffPolicy, type BackoffPolicy } from '../shared/backoff.js';
import type { Logger } from '../types/logger.js';
import { buildMqttConnect, DEFAULT_KEYS, type MqttConnectSettings } from './connect_options.js';

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

/** Something the operator must fix before lesion messages can be delivered. */
export interface DeliveryProblem {
  kind: 'not-authorized' | 'publish-denied';
  /** Human-readable: what happened, and which key (or broker setting) to fix. */
  message: string;
  /** The configuration key to fix (for `not-authorized`). */
  key?: string;
  /** The topic the broker refused (for `publish-denied`). */
  topic?: string;
}

export interface ConnectionInfo {
  state: ConnectionState;
  /** Protocol level of the current (or last) connection. */
  protocolVersion: 4 | 5 | null;
  /** Wall ms of the change. */
  since: number;
  /** Why the last connection ended or failed, if known. */
  error?: string;
  /** Set while the broker refuses us (credentials, ACL); delivery cannot succeed until it is fixed. */
  problem?: DeliveryProblem;
}

export interface ConnectionOptions {
  /** URL, credentials, TLS (built by `buildMqttConnect`, the one options builder). */
  settings: Omit<MqttConnectSettings, 'protocolVersion' | 'will' | 'clientId'>;
  clientId: string;
  /** `auto`: 5, falling back to 4 (3.1.1) if the broker refuses 5. */
  protocolVersion: 'auto' | 4 | 5;
  /** The last will for a CONNECT at this protocol level (rebuilt per attempt so its timestamp is fresh). */
  will(protocolVersion: 4 | 5): NonNullable<IClientOptions['will']>;
  /** Reconnect spacing; default from 1 s (or `settings.reconnectPeriodMs`) doubling to 10 s (the capture default: a returning broker is found within 10 s), ±20 %. */
  backoff?: Partial<BackoffPolicy>;
  logger: Logger;
}

/** mqtt.js reports a refused protocol level as CONNACK return code 1 (3.1.1 encoding) or reason code 0x84 (v5). */
export function isProtocolRefusal(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 1 || code === 0x84;
}

/** CONNACK refusals of the credentials: 3.1.1 return codes 4, 5; MQTT 5 reason codes 0x86, 0x87. */
export function isCredentialRefusal(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 4 || code === 5 || code === 0x86 || code === 0x87;
}

export class MqttConnection {
  private client: MqttClient | null = null;
  private gen = 0;
  private version: 4 | 5;
  private readonly auto: boolean;
  private readonly policy: BackoffPolicy;
  private failures = 0;
  private closed = false;
  private readonly connectListeners = new Set<() => void>();
  private readonly state = new BehaviorSubject<ConnectionInfo>({ state: 'connecting', protocolVersion: null, since: Date.now() });
  readonly state$: Observable<ConnectionInfo> = this.state.asObservable();
  /** The broker URL without credentials (for logs and stats). */
  readonly url: string;
  /** Set-up warnings (e.g. certificate checks off) from the options builder. */
  readonly warnings: readonly string[];
  readonly counters = { connects: 0, disconnects: 0, refused: 0 };

  constructor(private readonly opts: ConnectionOptions) {
    this.auto = opts.protocolVersion === 'auto';
    this.version = opts.protocolVersion === 4 ? 4 : 5;
    const initialMs = opts.settings.reconnectPeriodMs ?? 1000;
    this.policy = backoffPolicy({ initialMs, maxMs: Math.max(initialMs, 10_000), ...opts.backoff });
    // Built once up front so a bad setting (unreadable CA, insecure TLS without consent) throws at start, naming its key.
    const built = buildMqttConnect({ ...opts.settings, protocolVersion: this.version, clientId: opts.clientId });
    this.url = built.url;
    this.warnings = built.warnings;
  }

  get info(): ConnectionInfo {
    return this.state.value;
  }

  get protocolVersion(): 4 | 5 {
    return this.version;
  }

  /** The current client, or null before `start` and after `close`. */
  get mqtt(): MqttClient | null {
    return this.client;
  }

  isConnected(): boolean {
    return !!this.client?.connected && this.state.value.state === 'connected';
  }

  /** Called on every successful connect (after the state is `connected`). */
  onConnect(cb: () => void): void {
    this.connectListeners.add(cb);
  }

  /** Sets or clears (`null`) a problem of one kind; the state keeps whichever is set. */
  setProblem(kind: DeliveryProblem['kind'], problem: DeliveryProblem | null): void {
    const cur = this.state.value;
    if (problem === null && cur.problem?.kind !== kind) return;
    if (problem && cur.problem?.kind === problem.kind && cur.problem.message === problem.message) return;
    const { problem: _old, ...rest } = cur;
    this.state.next({ ...rest, since: Date.now(), ...(problem ? { problem } : {}) });
  }

  private set(state: ConnectionState, error?: string): void {
    const cur = this.state.value;
    if (cur.state === state && cur.error === error) return;
    this.state.next({ state, protocolVersion: this.client ? this.version : cur.protocolVersion, since: Date.now(), ...(error ? { error } : {}), ...(cur.problem ? { problem: cur.problem } : {}) });
  }

  private options(): IClientOptions {
    const built = buildMqttConnect({ ...this.opts.settings, protocolVersion: this.version, clientId: this.opts.clientId, will: this.opts.will(this.version) });
    return { ...built.options, clean: true, queueQoSZero: false, resubscribe: false, reconnectOnConnackError: true };
  }

  start(): void {
    const gen = ++this.gen;
    const client = connect(this.url, this.options());
    this.client = client;
    const mine = () => this.gen === gen && !this.closed;
    const log = this.opts.logger;
    const keys = { ...DEFAULT_KEYS, ...this.opts.settings.keys };

    client.on('connect', () => {
      if (!mine()) return;
      this.counters.connects++;
      if (this.failures > 0 || this.state.value.problem?.kind === 'not-authorized') log.info({ brokerUrl: this.url, afterFailures: this.failures }, 'publish: broker accepted the connection again');
      this.failures = 0;
      client.options.reconnectPeriod = this.policy.initialMs;
      this.setProblem('not-authorized', null);
      log.info({ brokerUrl: this.url, protocolVersion: this.version }, 'publish: connected');
      this.set('connected');
      for (const cb of this.connectListeners) cb();
    });
    client.on('reconnect', () => {
      if (!mine()) return;
      // Refresh the will's timestamp for this CONNECT.
      if (client.options.will) client.options.will.payload = this.opts.will(this.version).payload;
      this.set('reconnecting', this.state.value.error);
    });
    client.on('close', () => {
      if (!mine()) return;
      if (this.state.value.state === 'connected') {
        this.counters.disconnects++;
        log.warn({ brokerUrl: this.url }, 'publish: disconnected; lesion messages wait in the outbox');
      }
      this.set('reconnecting', this.state.value.error);
    });
    client.on('error', (err) => {
      if (!mine()) return;
      if (this.auto && this.version === 5 && isProtocolRefusal(err)) {
        log.warn({ brokerUrl: this.url, err: err.message }, 'publish: broker refuses MQTT 5, reconnecting with 3.1.1');
        this.version = 4;
        client.end(true);
        this.start();
        return;
      }
      // Every failed attempt in a row waits longer (mqtt.js reads reconnectPeriod when it schedules the next one).
      this.failures++;
      const delay = backoffDelayMs(this.failures, this.policy);
      client.options.reconnectPeriod = delay;
      if (isCredentialRefusal(err)) {
        this.counters.refused++;
        const who = this.opts.settings.username !== undefined ? ` (user "${this.opts.settings.username}")` : ' (no user name given)';
        const message = `the broker refused the credentials${who}: ${err.message}; fix ${keys.username} / ${keys.passwordFile} (or add the user to the broker); retrying in ${Math.round(delay / 1000)} s`;
        log.error({ brokerUrl: this.url, err: err.message, key: keys.passwordFile, attempt: this.failures, retryInMs: delay }, `publish: ${message}`);
        this.setProblem('not-authorized', { kind: 'not-authorized', message, key: keys.passwordFile });
      } else {
        log.warn({ brokerUrl: this.url, err: err.message, attempt: this.failures, retryInMs: delay }, 'publish: MQTT error');
      }
      this.set(this.state.value.state === 'connected' ? 'connected' : 'reconnecting', err.message);
    });
  }

  /** A graceful DISCONNECT (no last will); forced after `timeoutMs`. */
  async close(timeoutMs: number): Promise<void> {
    this.closed = true;
    const client = this.client;
    if (client) {
      await Promise.race([new Promise<void>((r) => client.end(false, {}, () => r())), new Promise<void>((r) => setTimeout(r, Math.max(100, timeoutMs)).unref())]);
      if (!client.disconnected) client.end(true);
    }
    this.set('closed');
    this.state.complete();
  }
}
