/**
 * The examination on the bedside display, in Chromium (playwright-core) against the embedded broker a default run
 * starts: p(malignant) on the threshold scale, the history strip from `ended` messages, and the touch-screen form
 * that publishes the retained `session/set` command. Messages are schema 1.1.0 as the issue 8 contract defines them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { connect, type MqttClient } from 'mqtt';
import { chromium, type Browser, type Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDisplayServer, type DisplayServer } from '../../src/display/index.js';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../src/publish/embedded_broker.js';
import type { SnapshotMessage } from '../../src/publish/wire_message.js';
import { statusMessage } from '../client/helpers/messages.js';
import { BACK, ended11, lesion11 } from './helpers/messages_1_1.js';

const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`Chromium not found at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_BIN): examination browser tests skipped`);
const ARTIFACTS = new URL('../../artifacts/display/', import.meta.url).pathname;
const SESSION_SCHEMA = new URL('../../schema/session-set.schema.json', import.meta.url).pathname;

async function device(url: string, clientId: string): Promise<MqttClient> {
  const c = connect(url, { reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 4, clientId });
  c.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('error', reject);
  });
  return c;
}

const pub = (c: MqttClient, topic: string, payload: object, retain = false) =>
  new Promise<void>((resolve, reject) => c.publish(topic, JSON.stringify(payload), { qos: 1, retain }, (e) => (e ? reject(e) : resolve())));

async function snapshotOf(frameSeq: number, rgb: { r: number; g: number; b: number }): Promise<SnapshotMessage> {
  const jpeg = await sharp({ create: { width: 160, height: 120, channels: 3, background: rgb } }).jpeg({ quality: 90 }).toBuffer();
  return {
    schema: { id: 'https://dermstream.dev/schema/snapshot-message.schema.json', version: '1.0.0' },
    kind: 'snapshot',
    deviceId: 'derm-01',
    sessionId: 's1',
    seq: frameSeq,
    frame: { seq: frameSeq, width: 640, height: 480, capturedAt: new Date().toISOString() },
    image: { mime: 'image/jpeg', width: 160, height: 120, data: jpeg.toString('base64') },
    publishedAt: new Date().toISOString(),
  };
}

/** Centre of an element as a fraction of the scale's width. */
async function onScale(page: Page, id: string): Promise<number> {
  const scale = (await page.locator('#scale').boundingBox())!;
  const el = (await page.locator(`#${id}`).boundingBox())!;
  return (el.x + el.width / 2 - scale.x) / scale.width;
}

describe.skipIf(!haveChromium)('the examination on the bedside display (Chromium)', () => {
  let browser: Browser;
  let broker: EmbeddedBroker;
  let display: DisplayServer;
  let dev: MqttClient;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
    broker = await startEmbeddedBroker({ tcpPort: 0, wsPort: 0 });
    display = await startDisplayServer({ port: 0, brokerWsUrl: broker.wsUrl, topicPrefix: 'dermstream', deviceId: 'derm-01', staleAfterMs: 60_000 });
    dev = await device(broker.url, 'derm-01-exam');
    await pub(dev, 'dermstream/derm-01/status', statusMessage('online'), true);
  });
  afterAll(async () => {
    dev?.end(true);
    await browser?.close();
    await display?.close();
    await broker?.close();
    expect(pageErrors).toEqual([]);
  });

  const openPage = async (): Promise<Page> => {
    const page = await browser.newPage({ viewport: { width: 1024, height: 600 }, deviceScaleFactor: 1, hasTouch: true });
    page.on('pageerror', (e) => pageErrors.push(`uncaught: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`);
    });
    await page.goto(display.url);
    await page.waitForSelector('body[data-broker="connected"][data-device="online"]', { timeout: 20_000 });
    return page;
  };

  it('threshold scale: marker at the operating threshold, needle at p(malignant), the side in words, capped at > 99 %', async () => {
    const page = await openPage();
    const stable = (seq: number, malignant: number, label: 'benign' | 'malignant') =>
      pub(dev, 'dermstream/derm-01/lesion', { ...lesion11({ state: 'stable', label, seq, frameSeq: 10 + seq, episode: 0, probabilities: { benign: 1 - malignant, malignant } }), publishedAt: new Date().toISOString() });

    await stable(1, 0.37, 'malignant');
    await page.waitForSelector('#verdict[data-kind="stable"] #verdict-probability[data-side="above"]');
    expect(await page.locator('#p-text').innerText()).toBe('p(malignant) 37 %');
    expect(await page.locator('#p-side').innerText()).toBe('above the referral threshold (15 %)');
    expect(await page.locator('#p-variation').innerText()).toBe('frame-to-frame variation ± 4 points');
    expect(await onScale(page, 'scale-threshold')).toBeCloseTo(0.15, 2);
    expect(await onScale(page, 'scale-needle')).toBeCloseTo(0.37, 2);
    // Never the winning class's probability, never "± x" right after a percentage.
    const text = await page.locator('#verdict').innerText();
    expect(text).not.toMatch(/63 %|% ±/);
    await page.screenshot({ path: join(ARTIFACTS, 'scale-above-page.png') });

    // A benign verdict: p(malignant) 8 %, left of the marker, "below".
    await stable(2, 0.08, 'benign');
    await page.waitForSelector('#verdict-probability[data-side="below"]');
    expect(await page.locator('#p-text').innerText()).toBe('p(malignant) 8 %');
    expect(await page.locator('#p-side').innerText()).toBe('below the referral threshold (15 %)');
    const needle = await onScale(page, 'scale-needle');
    expect(needle).toBeCloseTo(0.08, 2);
    expect(needle).toBeLessThan(await onScale(page, 'scale-threshold'));
    await page.screenshot({ path: join(ARTIFACTS, 'scale-below-page.png') });

    await stable(3, 0.9996, 'malignant');
    await page.waitForFunction(() => document.getElementById('p-text')!.textContent === 'p(malignant) > 99 %');
    expect(await onScale(page, 'scale-needle')).toBeCloseTo(1, 2);
    expect(`${await page.locator('#p-text').innerText()} ${await page.locator('#p-side').innerText()}`).not.toMatch(/100/);
    await page.close();
  });

  it('history strip: three ended episodes → three entries newest first, thumbnail of the best frame; the ended verdict stays until the next lesion', async () => {
    const page = await openPage();
    const t = Date.now();
    const at = () => new Date().toISOString();
    await pub(dev, 'dermstream/derm-01/snapshot', await snapshotOf(105, { r: 200, g: 40, b: 40 }));
    await pub(dev, 'dermstream/derm-01/lesion', { ...lesion11({ state: 'stable', label: 'malignant', seq: 100, frameSeq: 105, episode: 1 }), publishedAt: at() });
    await pub(dev, 'dermstream/derm-01/lesion', { ...ended11({ episode: 1, verdict: 'malignant', pMalignant: 0.41, seq: 101, frameSeq: 110, bestFrameSeq: 105, endedAtMs: t - 20_000 }), publishedAt: at() });
    await pub(dev, 'dermstream/derm-01/lesion', { ...ended11({ episode: 2, verdict: 'benign', pMalignant: 0.05, seq: 102, frameSeq: 200, bestFrameSeq: 190, endedAtMs: t - 10_000 }), publishedAt: at() });
    await pub(dev, 'dermstream/derm-01/lesion', { ...ended11({ episode: 3, verdict: null, seq: 103, frameSeq: 300, bestFrameSeq: null, endedAtMs: t, endReason: 'new-lesion' }), publishedAt: at() });
    await page.waitForFunction(() => document.querySelectorAll('#history-list li').length === 3);
    const entries = await page.locator('#history-list li').evaluateAll((lis) => lis.map((li) => ({ id: (li as HTMLElement).dataset.episode, text: (li as HTMLElement).innerText, img: li.querySelector('img')?.getAttribute('src')?.slice(0, 23) ?? null })));
    expect(entries.map((e) => e.id)).toEqual(['derm-01:s1:ep3', 'derm-01:s1:ep2', 'derm-01:s1:ep1']);
    expect(entries[0]!.text).toMatch(/No steady result/);
    expect(entries[1]!.text).toMatch(/Benign[\s\S]*p\(malignant\) 5 %[\s\S]*below the referral threshold \(15 %\)/);
    expect(entries[2]!.text).toMatch(/Malignant[\s\S]*p\(malignant\) 41 %[\s\S]*above the referral threshold \(15 %\)/);
    expect(entries[2]!.img).toBe('data:image/jpeg;base64,');
    expect(entries[1]!.img).toBeNull();
    // Each shows its time.
    for (const e of entries) expect(e.text).toMatch(/\d\d:\d\d:\d\d/);
    expect(await page.locator('#history-empty').isVisible()).toBe(false);

    // The newest ended verdict is on screen, and stays through a searching heartbeat.
    await page.waitForSelector('#verdict[data-kind="ended"]');
    expect(await page.locator('#verdict-title').innerText()).toBe('Last lesion: no steady result');
    await pub(dev, 'dermstream/derm-01/lesion', { ...lesion11({ state: 'searching', seq: 104, frameSeq: 320, episode: null }), publishedAt: at() });
    await page.waitForFunction(() => document.getElementById('verdict')!.dataset.state === 'searching');
    expect(await page.locator('#verdict').getAttribute('data-kind')).toBe('ended');
    await page.screenshot({ path: join(ARTIFACTS, 'history-page.png') });
    // The next lesion in view replaces it; the strip stays.
    await pub(dev, 'dermstream/derm-01/lesion', { ...lesion11({ state: 'tracking', seq: 105, frameSeq: 330, episode: 4 }), publishedAt: at() });
    await page.waitForSelector('#verdict[data-kind="assessing"]');
    expect(await page.locator('#history-list li').count()).toBe(3);
    await page.close();
  });

  it('the examination form publishes a retained, valid session/set', async () => {
    const watcher = await device(broker.url, 'session-watcher');
    const got = new Promise<{ payload: Record<string, unknown>; retain: boolean }>((resolve) => {
      watcher.on('message', (topic, payload, packet) => {
        if (topic === 'dermstream/derm-01/session/set' && payload.length > 0) resolve({ payload: JSON.parse(payload.toString()), retain: packet.retain });
      });
    });
    await new Promise<void>((r) => watcher.subscribe('dermstream/derm-01/session/set', { qos: 1 }, () => r()));

    const page = await openPage();
    await page.waitForSelector('#session-bar:not([disabled])');
    expect(await page.locator('#session-text').innerText()).toBe('No patient set');
    await page.locator('#session-bar').tap();
    await page.waitForSelector('#session-dialog[open]');
    expect(await page.locator('#site-buttons button').count()).toBeGreaterThanOrEqual(8);
    // A reference that cannot be sent (a barcode scanner's tab) is refused on the screen and nothing is published.
    await page.locator('#patient-ref').fill('MRN\t00123');
    await page.locator('#session-apply').tap();
    await page.waitForSelector('#session-error:not([hidden])');
    expect(await page.locator('#session-error').innerText()).toMatch(/control character/);
    expect(await page.locator('#session-dialog').getAttribute('open')).not.toBeNull();
    await page.locator('#patient-ref').fill('MRN-00123');
    await page.locator('#site-buttons button[data-code="77568009"]').tap();
    expect(await page.locator('#site-buttons button[data-code="77568009"]').getAttribute('aria-checked')).toBe('true');
    await page.screenshot({ path: join(ARTIFACTS, 'session-form-page.png') });
    await page.locator('#session-apply').tap();

    const live = await got;
    expect(live.payload).toEqual({ schema: { id: 'https://dermstream.dev/schema/session-set.schema.json', version: '1.0.0' }, patientRef: 'MRN-00123', bodySite: BACK });
    if (existsSync(SESSION_SCHEMA)) {
      const validate = new Ajv2020({ strict: false }).compile(JSON.parse(readFileSync(SESSION_SCHEMA, 'utf8')));
      expect(validate(live.payload), JSON.stringify(validate.errors)).toBe(true);
    } else console.warn(`${SESSION_SCHEMA} not in this branch yet: session/set checked against the contract's shape only`);
    await page.waitForFunction(() => !(document.getElementById('session-dialog') as HTMLDialogElement).open);
    await page.waitForFunction(() => document.getElementById('session-text')!.textContent === 'Patient MRN-00123 · Back', undefined, { timeout: 5000 }).catch(async (e) => {
      throw new Error(`${e.message}: shows ${await page.locator('#session-text').innerText()}`);
    });

    // Retained: a client that subscribes later (the device after a restart) gets it.
    const late = await device(broker.url, 'late-subscriber');
    const retained = await new Promise<{ payload: Record<string, unknown>; retain: boolean }>((resolve) => {
      late.on('message', (_t, payload, packet) => resolve({ payload: JSON.parse(payload.toString()), retain: packet.retain }));
      late.subscribe('dermstream/derm-01/session/set', { qos: 1 });
    });
    expect(retained).toEqual({ payload: live.payload, retain: true });
    // A new page shows the retained context before the device echoes it.
    const second = await openPage();
    await second.waitForFunction(() => document.getElementById('session-text')!.textContent === 'Patient MRN-00123 · Back');
    await second.close();
    late.end(true);
    watcher.end(true);
    await page.close();
  });
});
