import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FhirSender, backoffDelay, parseRetryAfter, toObservation, type BridgeLogger } from '../../src/bridge/index.js';
import { episodeMessages } from './helpers/episodes.js';

interface Hit {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  at: number;
}

/** A FHIR server on 127.0.0.1 that answers from a script: each entry is [status, headers?]. */
async function fakeFhir(script: (n: number) => [number, Record<string, string>?]): Promise<{ url: string; hits: Hit[]; server: Server }> {
  const hits: Hit[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      hits.push({ method: req.method!, url: req.url!, headers: req.headers, body, at: Date.now() });
      const [status, headers] = script(hits.length);
      const outcome = status >= 400 ? { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'invalid', diagnostics: `scripted ${status}` }] } : JSON.parse(body);
      res.writeHead(status, { 'content-type': 'application/fhir+json', ...(status === 201 ? { location: `/fhir/Observation/${hits.length}/_history/1` } : {}), ...headers });
      res.end(JSON.stringify(outcome));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/fhir`, hits, server };
}

function memLogger(): BridgeLogger & { lines: { level: string; obj: object; msg?: string }[] } {
  const lines: { level: string; obj: object; msg?: string }[] = [];
  return {
    lines,
    info: (obj, msg) => lines.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => lines.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => lines.push({ level: 'error', obj, msg }),
  };
}

let dir: string;
let servers: Server[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fhir-'));
});
afterEach(async () => {
  for (const s of servers) await new Promise((r) => s.close(r));
  servers = [];
  await rm(dir, { recursive: true, force: true });
});

describe('back-off helpers', () => {
  it('grows exponentially with jitter inside [d/2, d] and is capped', () => {
    expect(backoffDelay(1, 100, 10_000, () => 0)).toBe(50);
    expect(backoffDelay(1, 100, 10_000, () => 1)).toBe(100);
    expect(backoffDelay(4, 100, 10_000, () => 0.5)).toBe(600);
    expect(backoffDelay(30, 100, 1000, () => 1)).toBe(1000);
  });
  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(parseRetryAfter('soon')).toBeNull();
    expect(parseRetryAfter(null)).toBeNull();
  });
});

describe('FHIR delivery', () => {
  const msgs = episodeMessages({ n: 4, seq: 9 });
  // The preliminary version (from the last stable verdict) goes as a conditional create; the final as a conditional update.
  const obs = toObservation(msgs.at(-2)!);
  const final = toObservation(msgs.at(-1)!);
  const episodeId = obs.identifier![0]!.value!;
  const id = `${episodeId}|preliminary`;
  const { id: _resourceId, ...sentBody } = obs;

  it('retries 503 twice, then 201: one resource, conditional-create header, back-off between attempts', async () => {
    const f = await fakeFhir((n) => (n <= 2 ? [503] : [201]));
    servers.push(f.server);
    const log = memLogger();
    const s = await FhirSender.open({ baseUrl: f.url, journalPath: join(dir, 'j.ndjson'), baseDelayMs: 100, logger: log, random: () => 0.5 });
    s.enqueue(id, episodeId, 'create', obs);
    await s.idle();
    expect(f.hits.map((h) => h.method + ' ' + h.url)).toEqual(Array(3).fill('POST /fhir/Observation'));
    for (const h of f.hits) {
      expect(h.headers['if-none-exist']).toBe(`identifier=${encodeURIComponent(`urn:dermstream:episode|${episodeId}`)}`);
      expect(h.headers['content-type']).toBe('application/fhir+json');
      expect(JSON.parse(h.body)).toEqual(sentBody); // the NDJSON record's id stays out: the server owns ids
    }
    // 75 ms then 150 ms (equal jitter at 0.5), measured loosely.
    expect(f.hits[1]!.at - f.hits[0]!.at).toBeGreaterThanOrEqual(60);
    expect(f.hits[2]!.at - f.hits[1]!.at).toBeGreaterThanOrEqual(130);
    expect(s.stats()).toMatchObject({ created: 1, retries: 2, rejected: 0, failed: 0 });
    expect(log.lines.filter((l) => l.level === 'warn')).toHaveLength(2);
    const journal = (await readFile(join(dir, 'j.ndjson'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(journal).toEqual([expect.objectContaining({ id, outcome: 'created', status: 201, location: '/fhir/Observation/3/_history/1' })]);
    expect(s.isDone(id)).toBe(true);
    await s.close();
  });

  it('400: not retried, logged with the OperationOutcome, counted, journaled as rejected', async () => {
    const f = await fakeFhir(() => [400]);
    servers.push(f.server);
    const log = memLogger();
    const s = await FhirSender.open({ baseUrl: f.url, journalPath: join(dir, 'j.ndjson'), baseDelayMs: 10, logger: log });
    s.enqueue(id, episodeId, 'create', obs);
    await s.idle();
    expect(f.hits).toHaveLength(1);
    expect(s.stats()).toMatchObject({ created: 0, rejected: 1, retries: 0, lastError: 'HTTP 400' });
    const err = log.lines.find((l) => l.level === 'error')!;
    expect(err.msg).toMatch(/rejected \(not retried\)/);
    expect(JSON.stringify(err.obj)).toContain('scripted 400');
    expect(await readFile(join(dir, 'j.ndjson'), 'utf8')).toContain('"outcome":"rejected"');
    await s.close();
  });

  it('429 with Retry-After is honoured; 200 to the conditional create counts as already there', async () => {
    const f = await fakeFhir((n) => (n === 1 ? [429, { 'retry-after': '1' }] : [200]));
    servers.push(f.server);
    const s = await FhirSender.open({ baseUrl: f.url, journalPath: join(dir, 'j.ndjson'), baseDelayMs: 10 });
    s.enqueue(id, episodeId, 'create', obs);
    await s.idle();
    expect(f.hits).toHaveLength(2);
    expect(f.hits[1]!.at - f.hits[0]!.at).toBeGreaterThanOrEqual(950);
    expect(s.stats()).toMatchObject({ exists: 1, retries: 1 });
    await s.close();
  });

  it('network errors are retried and give up after maxAttempts (left for the next start, not journaled)', async () => {
    const f = await fakeFhir(() => [201]);
    const url = f.url;
    await new Promise((r) => f.server.close(r)); // nothing listens any more
    const s = await FhirSender.open({ baseUrl: url, journalPath: join(dir, 'j.ndjson'), baseDelayMs: 5, maxAttempts: 3 });
    s.enqueue(id, episodeId, 'create', obs);
    await s.idle();
    expect(s.stats()).toMatchObject({ failed: 1, retries: 2, created: 0 });
    expect(s.stats().lastError).toMatch(/fetch failed|ECONNREFUSED/);
    expect(s.isDone(id)).toBe(false);
    await s.close();
  });

  it('sends the bearer token from the token file; a journaled id is not sent again after a restart', async () => {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(dir, 'token'), 'sekret\n');
    const f = await fakeFhir(() => [201]);
    servers.push(f.server);
    const s = await FhirSender.open({ baseUrl: `${f.url}/`, journalPath: join(dir, 'j.ndjson'), tokenFile: join(dir, 'token') });
    s.enqueue(id, episodeId, 'create', obs);
    await s.idle();
    await s.close();
    expect(f.hits[0]!.headers.authorization).toBe('Bearer sekret');
    expect(f.hits[0]!.url).toBe('/fhir/Observation');
    const again = await FhirSender.open({ baseUrl: f.url, journalPath: join(dir, 'j.ndjson') });
    expect(again.isDone(id)).toBe(true);
    again.enqueue(id, episodeId, 'create', obs);
    await again.idle();
    expect(f.hits).toHaveLength(1);
    await again.close();
  });

  it('the final version is a conditional update on the identifier (PUT Observation?identifier=…), 200 counted as updated', async () => {
    const f = await fakeFhir(() => [200]);
    servers.push(f.server);
    const s = await FhirSender.open({ baseUrl: f.url, journalPath: join(dir, 'j.ndjson') });
    s.enqueue(`${episodeId}|final`, episodeId, 'update', final);
    await s.idle();
    expect(f.hits.map((h) => `${h.method} ${h.url}`)).toEqual([`PUT /fhir/Observation?identifier=${encodeURIComponent(`urn:dermstream:episode|${episodeId}`)}`]);
    expect(f.hits[0]!.headers['if-none-exist']).toBeUndefined();
    expect(JSON.parse(f.hits[0]!.body)).toMatchObject({ status: 'final', identifier: final.identifier });
    expect(JSON.parse(f.hits[0]!.body).id).toBeUndefined();
    expect(s.stats()).toMatchObject({ updated: 1, created: 0 });
    await s.close();
  });

  it('a preliminary whose final is written meanwhile is not sent (stillWanted), journaled as superseded', async () => {
    let finalWritten = false;
    // The first attempt fails (503) and, while it is answered, the bridge writes the final version.
    const f = await fakeFhir((n) => ((finalWritten = true), n === 1 ? [503] : [201]));
    servers.push(f.server);
    const s = await FhirSender.open({
      baseUrl: f.url,
      journalPath: join(dir, 'j.ndjson'),
      baseDelayMs: 20,
      stillWanted: async () => !finalWritten,
    });
    s.enqueue(id, episodeId, 'create', obs);
    await s.idle();
    expect(f.hits).toHaveLength(1);
    expect(s.stats()).toMatchObject({ superseded: 1, created: 0 });
    expect(await readFile(join(dir, 'j.ndjson'), 'utf8')).toContain('"outcome":"superseded"');
    await s.close();
  });
});
