/**
 * The bedside display in a real browser (Debian's Chromium driven by playwright-core) against real brokers:
 * the embedded aedes broker (TCP + WebSocket, what `dermstream run` starts by default) and Mosquitto (through a
 * WebSocket front, see helpers/ws_proxy.ts). Screenshots are kept in artifacts/display/ (gitignored).
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { chromium, type Browser, type Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDisplayServer, type DisplayServer } from '../../src/display/index.js';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../src/publish/embedded_broker.js';
import type { LesionMessage, SnapshotMessage } from '../../src/publish/wire_message.js';
import { mosquittoAvailable, startMosquitto, type Mosquitto } from '../publish/helpers/mosquitto.js';
import { DEFAULT_CONTOUR, lesionMessage, statusMessage } from '../client/helpers/messages.js';
import { startWsProxy, type WsProxy } from './helpers/ws_proxy.js';

const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`Chromium not found at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_BIN): display browser tests skipped`);

const ARTIFACTS = new URL('../../artifacts/display/', import.meta.url).pathname;
const W = 640;
const H = 480;
const SKIN = { r: 178, g: 120, b: 98 };

async function snapshotOf(frameSeq: number, opts: { deviceId?: string; sessionId?: string } = {}): Promise<SnapshotMessage> {
  const jpeg = await sharp({ create: { width: 320, height: 240, channels: 3, background: SKIN } }).jpeg({ quality: 90 }).toBuffer();
  return {
    schema: { id: 'https://dermstream.dev/schema/snapshot-message.schema.json', version: '1.0.0' },
    kind: 'snapshot',
    deviceId: opts.deviceId ?? 'derm-01',
    sessionId: opts.sessionId ?? 's1',
    seq: frameSeq,
    frame: { seq: frameSeq, width: W, height: H, capturedAt: new Date().toISOString() },
    image: { mime: 'image/jpeg', width: 320, height: 240, data: jpeg.toString('base64') },
    publishedAt: new Date().toISOString(),
  };
}

async function device(url: string, opts: IClientOptions): Promise<MqttClient> {
  const c = connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
  c.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('error', reject);
  });
  return c;
}

const pub = (c: MqttClient, topic: string, payload: object, retain = false) =>
  new Promise<void>((resolve, reject) => c.publish(topic, JSON.stringify(payload), { qos: 1, retain }, (e) => (e ? reject(e) : resolve())));

const fresh = (m: LesionMessage): LesionMessage => ({ ...m, publishedAt: new Date().toISOString() });

interface Pixels {
  data: Buffer;
  width: number;
  height: number;
  at(x: number, y: number): [number, number, number];
}

async function canvasPixels(page: Page, name: string): Promise<{ px: Pixels; rect: { x: number; y: number; width: number; height: number } }> {
  const canvas = page.locator('#frame');
  const png = await canvas.screenshot();
  await writeFile(join(ARTIFACTS, `${name}-canvas.png`), png);
  await page.screenshot({ path: join(ARTIFACTS, `${name}-page.png`) });
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const rect = JSON.parse((await canvas.getAttribute('data-rect'))!);
  return {
    rect,
    px: {
      data,
      width: info.width,
      height: info.height,
      at: (x, y) => {
        const i = (Math.round(y) * info.width + Math.round(x)) * 3;
        return [data[i]!, data[i + 1]!, data[i + 2]!];
      },
    },
  };
}

const isContourColour = ([r, g, b]: [number, number, number]) => r > 200 && g > 170 && b < 110;

/** Is there a contour-coloured pixel within `radius` of (x, y)? */
function contourNear(px: Pixels, x: number, y: number, radius = 3): boolean {
  for (let dy = -radius; dy <= radius; dy++) for (let dx = -radius; dx <= radius; dx++) if (isContourColour(px.at(x + dx, y + dy))) return true;
  return false;
}

function frameToScreen(rect: { x: number; y: number; width: number; height: number }, [fx, fy]: [number, number]): [number, number] {
  return [rect.x + (fx / W) * rect.width, rect.y + (fy / H) * rect.height];
}

describe.skipIf(!haveChromium)('bedside display in Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  });
  afterAll(async () => {
    await browser?.close();
  });

  /** Console errors and uncaught exceptions of every page (CSP violations, 404s, script errors): none expected. */
  const pageErrors: string[] = [];
  afterAll(() => {
    expect(pageErrors).toEqual([]);
  });

  const openPage = async (url: string): Promise<Page> => {
    const page = await browser.newPage({ viewport: { width: 1024, height: 600 }, deviceScaleFactor: 1 });
    page.on('pageerror', (e) => pageErrors.push(`uncaught: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`);
    });
    await page.goto(url);
    await page.waitForSelector('body[data-broker="connected"]', { timeout: 20_000 });
    return page;
  };

  describe('on the embedded aedes broker (the default run)', () => {
    let broker: EmbeddedBroker;
    let display: DisplayServer;
    beforeAll(async () => {
      broker = await startEmbeddedBroker({ tcpPort: 0, wsPort: 0 });
      display = await startDisplayServer({ port: 0, brokerWsUrl: broker.wsUrl, topicPrefix: 'dermstream', deviceId: 'derm-01', staleAfterMs: 5000 });
    });
    afterAll(async () => {
      await display?.close();
      await broker?.close();
    });

    it('serves the page, its config and mqtt.js from node_modules (no CDN)', async () => {
      const cfg = await (await fetch(`${display.url}config.json`)).json();
      expect(cfg).toMatchObject({ brokerWsUrl: broker.wsUrl, topicPrefix: 'dermstream', deviceId: 'derm-01', staleAfterMs: 5000 });
      const mq = await fetch(`${display.url}vendor/mqtt.esm.js`);
      expect(mq.status).toBe(200);
      expect((await mq.text()).length).toBeGreaterThan(100_000);
      const html = await (await fetch(display.url)).text();
      expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org)/); // nothing from outside
      expect((await fetch(`${display.url}page/app.js`)).status).toBe(200);
      expect((await fetch(`${display.url}page/nope.js`)).status).toBe(404);
    });

    it('draws the published contour over the snapshot; tracking stays neutral; only stable gets the badge', async () => {
      const dev = await device(broker.url, { protocolVersion: 4, clientId: 'derm-01-test' });
      await pub(dev, 'dermstream/derm-01/status', statusMessage('online'), true);
      const page = await openPage(display.url);
      await page.waitForSelector('body[data-device="online"]');

      // Tracking, on frame 30, with its snapshot.
      await pub(dev, 'dermstream/derm-01/snapshot', await snapshotOf(30));
      await pub(dev, 'dermstream/derm-01/lesion', fresh(lesionMessage({ state: 'tracking', seq: 0, frameSeq: 30 })));
      await page.waitForSelector('#verdict[data-kind="assessing"]');
      await page.waitForSelector('#frame[data-overlay-same-frame="true"]');
      await page.waitForSelector('#image-note', { state: 'hidden' });
      const tracking = await page.locator('#verdict').innerText();
      expect(tracking).toMatch(/Assessing/);
      expect(tracking).not.toMatch(/malignant|benign|%/i);
      expect(await page.locator('#verdict-probability').isVisible()).toBe(false);
      expect(await page.locator('#verdict').evaluate((e) => getComputedStyle(e).backgroundColor)).toBe('rgb(58, 61, 66)');
      expect(await page.locator('#verdict[data-kind="stable"]').count()).toBe(0);
      const t = await canvasPixels(page, 'tracking');
      // The outline is dashed while tracking: somewhere along the first edge it shows.
      const edge = Array.from({ length: 21 }, (_, i) => frameToScreen(t.rect, [200 + (240 * i) / 20, 120 + (10 * i) / 20]));
      expect(edge.filter(([x, y]) => contourNear(t.px, x, y, 2)).length).toBeGreaterThan(5);

      // Stable, on frame 36, with its snapshot.
      await pub(dev, 'dermstream/derm-01/snapshot', await snapshotOf(36));
      await pub(dev, 'dermstream/derm-01/lesion', fresh(lesionMessage({ state: 'stable', label: 'malignant', seq: 1, frameSeq: 36 })));
      await page.waitForSelector('#verdict[data-kind="stable"][data-label="malignant"]');
      await page.waitForSelector('#frame[data-overlay-frame="36"][data-snapshot-frame="36"][data-overlay-same-frame="true"]');
      expect(await page.locator('#verdict-title').innerText()).toBe('MALIGNANT');
      // p(malignant), not the winning class's; a 1.0.0 message carries no operating point to mark.
      expect(await page.locator('#p-text').innerText()).toBe('p(malignant) 78 %');
      expect(await page.locator('#p-side').innerText()).toBe('referral threshold not reported by the device');
      expect(await page.locator('#scale-threshold').isVisible()).toBe(false);
      expect(await page.locator('#verdict-icon svg').count()).toBe(1);
      expect(await page.locator('#verdict').evaluate((e) => getComputedStyle(e).backgroundColor)).toBe('rgb(166, 60, 0)');
      expect(Number.parseFloat(await page.locator('#verdict-title').evaluate((e) => getComputedStyle(e).fontSize))).toBeGreaterThanOrEqual(44);
      expect(await page.locator('#stat-latency').innerText()).toMatch(/^49 ms \(\+\d+ ms net\)$/);
      // The label fits its badge (no overflow at 1024×600).
      const fits = await page.locator('#verdict-title').evaluate((e) => e.scrollWidth <= (e.parentElement as HTMLElement).clientWidth);
      expect(fits).toBe(true);

      const s = await canvasPixels(page, 'stable');
      // On the polygon's edges (mid-points of all four): contour colour. Inside and far outside: the skin image.
      const poly = DEFAULT_CONTOUR;
      for (let i = 0; i < poly.length; i++) {
        const a = poly[i]!;
        const b = poly[(i + 1) % poly.length]!;
        const [x, y] = frameToScreen(s.rect, [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2]);
        expect(contourNear(s.px, x, y), `edge ${i} at (${x.toFixed(1)}, ${y.toFixed(1)})`).toBe(true);
      }
      for (const far of [
        [320, 240],
        [40, 440],
        [600, 40],
      ] as [number, number][]) {
        const [x, y] = frameToScreen(s.rect, far);
        expect(contourNear(s.px, x, y, 4), `no contour near frame point ${far}`).toBe(false);
        const [r, g, b] = s.px.at(x, y);
        expect(Math.abs(r - SKIN.r) + Math.abs(g - SKIN.g) + Math.abs(b - SKIN.b)).toBeLessThan(30);
      }

      // The same on a desktop browser window.
      await page.setViewportSize({ width: 1600, height: 900 });
      await page.waitForFunction(() => JSON.parse(document.getElementById('frame')!.dataset.rect ?? '{}').width > 700);
      expect(await page.locator('#verdict-title').evaluate((e) => e.scrollWidth <= (e.parentElement as HTMLElement).clientWidth)).toBe(true);
      await page.screenshot({ path: join(ARTIFACTS, 'stable-desktop-page.png') });
      await page.setViewportSize({ width: 1024, height: 600 });

      // The benign badge: another colour, another icon, another word.
      await pub(dev, 'dermstream/derm-01/lesion', fresh(lesionMessage({ state: 'stable', label: 'benign', seq: 2, frameSeq: 39 })));
      await page.waitForSelector('#verdict[data-kind="stable"][data-label="benign"]');
      expect(await page.locator('#verdict-title').innerText()).toBe('BENIGN');
      expect(await page.locator('#verdict').evaluate((e) => getComputedStyle(e).backgroundColor)).toBe('rgb(11, 79, 138)');
      await page.screenshot({ path: join(ARTIFACTS, 'benign-page.png') });

      // Indeterminate after stable: the badge goes.
      await pub(dev, 'dermstream/derm-01/lesion', fresh(lesionMessage({ state: 'indeterminate', seq: 3, frameSeq: 42 })));
      await page.waitForSelector('#verdict[data-kind="uncertain"]');
      expect(await page.locator('#verdict').innerText()).not.toMatch(/malignant|benign|%/i);
      await page.close();
      dev.end(true);
    });

    it('greys out a verdict that is no longer current', async () => {
      const dev = await device(broker.url, { protocolVersion: 4 });
      await pub(dev, 'dermstream/derm-01/status', statusMessage('online'), true);
      const page = await openPage(`${display.url}?stale=1`);
      await pub(dev, 'dermstream/derm-01/lesion', fresh(lesionMessage({ state: 'stable', seq: 10, frameSeq: 60 })));
      await page.waitForSelector('#verdict[data-kind="stable"][data-stale="false"]');
      await page.waitForSelector('#verdict[data-stale="true"]', { timeout: 5000 });
      expect(await page.locator('#verdict-stale').innerText()).toMatch(/^Not current — last update \d+ s ago/);
      expect(await page.locator('#verdict').evaluate((e) => getComputedStyle(e).backgroundColor)).toBe('rgb(42, 44, 47)');
      expect(await page.locator('body.greyed').count()).toBe(1);
      expect(Number.parseFloat(await page.locator('#verdict-title').evaluate((e) => getComputedStyle(e).fontSize))).toBeLessThanOrEqual(30);
      await page.screenshot({ path: join(ARTIFACTS, 'stale-page.png') });
      await page.close();
      dev.end(true);
    });

    it("shows the device offline when its last will fires (socket destroyed)", async () => {
      const will = statusMessage('offline', { lastWill: true });
      const dev = await device(broker.url, { protocolVersion: 4, clientId: 'derm-01-will', will: { topic: 'dermstream/derm-01/status', payload: Buffer.from(JSON.stringify(will)), qos: 1, retain: true } });
      await pub(dev, 'dermstream/derm-01/status', statusMessage('online'), true);
      const page = await openPage(display.url);
      await pub(dev, 'dermstream/derm-01/lesion', fresh(lesionMessage({ state: 'stable', seq: 20, frameSeq: 90 })));
      await page.waitForSelector('#verdict[data-kind="stable"]');
      expect(await page.locator('#banner').isVisible()).toBe(false);
      dev.stream.destroy(); // no DISCONNECT: the broker publishes the will
      await page.waitForSelector('#banner[data-kind="offline"]', { state: 'visible', timeout: 15_000 });
      expect(await page.locator('#banner').innerText()).toMatch(/^DEVICE OFFLINE/);
      const box = await page.locator('#banner').boundingBox();
      expect(box!.width).toBeGreaterThanOrEqual(1000);
      await page.waitForSelector('#verdict[data-kind="withdrawn"]');
      expect(await page.locator('#verdict').innerText()).not.toMatch(/malignant|benign|%/i);
      await page.screenshot({ path: join(ARTIFACTS, 'offline-page.png') });
      await page.close();
    });
  });

  describe.skipIf(!mosquittoAvailable)('on Mosquitto, page configured by query parameters', () => {
    let mosq: Mosquitto;
    let proxy: WsProxy;
    let display: DisplayServer;
    beforeAll(async () => {
      mosq = await startMosquitto();
      proxy = await startWsProxy(mosq.port);
      // This server knows no broker and another device: the query says which.
      display = await startDisplayServer({ port: 0, brokerWsUrl: null, deviceId: 'derm-99' });
    });
    afterAll(async () => {
      await display?.close();
      await proxy?.close();
      await mosq?.dispose();
    });

    it('?broker=…&device=… connects there, shows the stable verdict, then the last will', async () => {
      const will = statusMessage('offline', { deviceId: 'derm-02', lastWill: true });
      const dev = await device(mosq.url, {
        protocolVersion: 5,
        clientId: 'derm-02',
        will: { topic: 'dermstream/derm-02/status', payload: Buffer.from(JSON.stringify(will)), qos: 1, retain: true },
      });
      await pub(dev, 'dermstream/derm-02/status', statusMessage('online', { deviceId: 'derm-02' }), true);
      const page = await openPage(`${display.url}?broker=${encodeURIComponent(proxy.wsUrl)}&device=derm-02`);
      expect(await page.locator('body').getAttribute('data-broker-url')).toBe(proxy.wsUrl);
      await page.waitForSelector('body[data-device="online"]');
      await pub(dev, 'dermstream/derm-02/snapshot', await snapshotOf(12, { deviceId: 'derm-02' }));
      await pub(dev, 'dermstream/derm-02/lesion', fresh(lesionMessage({ state: 'stable', label: 'benign', seq: 4, frameSeq: 12, deviceId: 'derm-02' })));
      await page.waitForSelector('#verdict[data-kind="stable"][data-label="benign"]');
      expect(await page.locator('#stat-device').innerText()).toMatch(/^derm-02/);
      await page.waitForSelector('#frame[data-overlay-same-frame="true"]');
      await page.screenshot({ path: join(ARTIFACTS, 'mosquitto-stable-page.png') });
      dev.stream.destroy();
      await page.waitForSelector('#banner[data-kind="offline"]', { state: 'visible', timeout: 15_000 });
      await page.waitForSelector('#verdict[data-kind="withdrawn"]');
      await page.screenshot({ path: join(ARTIFACTS, 'mosquitto-offline-page.png') });
      await page.close();
    });
  });
});
