import { describe, expect, it } from 'vitest';
import { boxToCanvas, fitContain, initialState, onBroker, onLesion, onSnapshot, onStatus, overlaySource, resolveConfig, screenOf, frameRate } from '../../src/display/index.js';
import type { SnapshotMessage } from '../../src/publish/wire_message.js';
import { lesionMessage, statusMessage } from '../client/helpers/messages.js';

const loc = { protocol: 'http:', hostname: 'ward-display.local' };

describe('display config', () => {
  it('query beats config.json beats defaults', () => {
    const served = { brokerWsUrl: 'ws://10.0.0.5:9001/', topicPrefix: 'site', deviceId: 'derm-01', staleAfterMs: 5000 };
    expect(resolveConfig(new URLSearchParams(''), served, loc)).toMatchObject({ brokerUrl: 'ws://10.0.0.5:9001/', prefix: 'site', deviceId: 'derm-01', staleAfterMs: 5000, warnings: [] });
    expect(resolveConfig(new URLSearchParams('broker=ws://h:1/&device=derm-02&prefix=p&stale=2'), served, loc)).toMatchObject({ brokerUrl: 'ws://h:1/', prefix: 'p', deviceId: 'derm-02', staleAfterMs: 2000 });
    expect(resolveConfig(new URLSearchParams(''), null, loc)).toMatchObject({ brokerUrl: 'ws://ward-display.local:9001/', prefix: 'dermstream', deviceId: null, staleAfterMs: 3000 });
  });
  it('a loopback broker from config.json becomes the page host when viewed from elsewhere', () => {
    expect(resolveConfig(new URLSearchParams(''), { brokerWsUrl: 'ws://127.0.0.1:9001/' }, loc).brokerUrl).toBe('ws://ward-display.local:9001/');
    expect(resolveConfig(new URLSearchParams(''), { brokerWsUrl: 'ws://127.0.0.1:9001/' }, { protocol: 'http:', hostname: '127.0.0.1' }).brokerUrl).toBe('ws://127.0.0.1:9001/');
  });
  it('bad values fall back with a warning', () => {
    const c = resolveConfig(new URLSearchParams('broker=http://x/&device=a/b&prefix=a/%23&stale=-1'), null, loc);
    expect(c.brokerUrl).toBe('ws://ward-display.local:9001/');
    expect(c.deviceId).toBeNull();
    expect(c.prefix).toBe('dermstream');
    expect(c.warnings).toHaveLength(4);
  });
});

describe('overlay geometry', () => {
  it('fits the frame whole and centred', () => {
    expect(fitContain(640, 480, 800, 400)).toEqual({ x: 400 - 266.6666666666667, y: 0, width: 533.3333333333334, height: 400 });
    expect(boxToCanvas([0.25, 0.5, 0.75, 1], { x: 10, y: 20, width: 100, height: 50 })).toEqual({ x: 35, y: 45, width: 50, height: 25 });
  });
});

function snapshot(frameSeq: number, sessionId = 's1'): SnapshotMessage {
  return {
    schema: { id: 'https://dermstream.dev/schema/snapshot-message.schema.json', version: '1.0.0' },
    kind: 'snapshot',
    deviceId: 'derm-01',
    sessionId,
    seq: frameSeq,
    frame: { seq: frameSeq, width: 640, height: 480, capturedAt: new Date(0).toISOString() },
    image: { mime: 'image/jpeg', width: 320, height: 240, data: '' },
    publishedAt: new Date(0).toISOString(),
  };
}

describe('what the screen says', () => {
  const connected = () => {
    const s = initialState('derm-01');
    onBroker(s, 'connected');
    onStatus(s, statusMessage('online'));
    return s;
  };

  it('only stable gets the label, the probability and the colour kind', () => {
    for (const state of ['tracking', 'indeterminate', 'searching', 'lost'] as const) {
      const s = connected();
      onLesion(s, lesionMessage({ state, seq: 1 }), 1000);
      const v = screenOf(s, 1000, 3000).verdict;
      expect(v.kind).not.toBe('stable');
      expect(v.label).toBeNull();
      expect(v.probability).toBeNull();
      expect(`${v.title} ${v.detail}`).not.toMatch(/malignant|benign|%/i);
    }
    const s = connected();
    onLesion(s, lesionMessage({ state: 'stable', label: 'malignant', seq: 2 }), 1000);
    const v = screenOf(s, 1000, 3000).verdict;
    // p(malignant), never the winning class's probability; a 1.0.0 message has no threshold to mark.
    expect(v).toMatchObject({ kind: 'stable', label: 'malignant', icon: 'malignant', title: 'MALIGNANT', stale: false });
    expect(v.probability).toMatchObject({ text: 'p(malignant) 78 %', side: null, variationText: 'frame-to-frame variation ± 4 points', scale: { valuePct: 78, thresholdPct: null } });
    const b = connected();
    onLesion(b, lesionMessage({ state: 'stable', label: 'benign', seq: 2 }), 1000);
    expect(screenOf(b, 1000, 3000).verdict.probability?.text).toBe('p(malignant) 14 %');
  });

  it('tracking says assessing, indeterminate says uncertain, searching/lost say no lesion', () => {
    const titles = (['tracking', 'indeterminate', 'searching', 'lost'] as const).map((state) => {
      const s = connected();
      onLesion(s, lesionMessage({ state }), 0);
      return screenOf(s, 0, 3000).verdict.title;
    });
    expect(titles).toEqual(['Assessing… hold still', 'Uncertain — hold still', 'No lesion in view', 'No lesion in view']);
  });

  it('goes stale (greyed, "not current") when nothing arrives for staleAfterMs, or the broker link drops', () => {
    const s = connected();
    onLesion(s, lesionMessage({ state: 'stable' }), 1000);
    expect(screenOf(s, 3900, 3000).verdict.stale).toBe(false);
    const v = screenOf(s, 5000, 3000);
    expect(v.verdict).toMatchObject({ stale: true, staleText: 'Not current — last update 4 s ago' });
    expect(v.imageGreyed).toBe(true);
    onBroker(s, 'reconnecting');
    const w = screenOf(s, 1500, 3000);
    expect(w.verdict.stale).toBe(true);
    expect(w.banner?.kind).toBe('broker');
  });

  it('device offline withdraws the verdict behind a banner', () => {
    const s = connected();
    onLesion(s, lesionMessage({ state: 'stable' }), 1000);
    onStatus(s, statusMessage('offline', { lastWill: true }));
    const v = screenOf(s, 1000, 3000);
    expect(v.banner).toMatchObject({ kind: 'offline' });
    expect(v.banner!.text).toMatch(/^DEVICE OFFLINE/);
    expect(v.verdict).toMatchObject({ kind: 'withdrawn', label: null, probability: null });
  });

  it('a device restart (new session) drops the old verdict and ignores the old session replayed', () => {
    const s = connected();
    onLesion(s, lesionMessage({ state: 'stable', seq: 5 }), 1000);
    onStatus(s, statusMessage('online', { sessionId: 's2' }));
    expect(s.lesion).toBeNull();
    onLesion(s, lesionMessage({ state: 'stable', seq: 6, sessionId: 's1' }), 1100); // outbox replay of s1
    expect(s.lesion).toBeNull();
    onLesion(s, lesionMessage({ state: 'tracking', seq: 0, sessionId: 's2' }), 1200);
    expect(s.lesion?.sessionId).toBe('s2');
  });

  it('an older frame does not replace a newer one; the overlay uses the snapshot frame when it can', () => {
    const s = connected();
    onLesion(s, lesionMessage({ state: 'tracking', seq: 1, frameSeq: 30 }), 1000);
    onLesion(s, lesionMessage({ state: 'stable', seq: 2, frameSeq: 36 }), 1100);
    onLesion(s, lesionMessage({ state: 'tracking', seq: 3, frameSeq: 33, kind: 'live' }), 1150);
    expect(s.lesion!.frame.seq).toBe(36);
    onSnapshot(s, snapshot(30), 1200);
    expect(overlaySource(s)).toMatchObject({ sameFrame: true, msg: { frame: { seq: 30 } } });
    onSnapshot(s, snapshot(40), 1300);
    expect(overlaySource(s)).toMatchObject({ sameFrame: false, msg: { frame: { seq: 36 } } });
    expect(frameRate(s, 1300)).toBeCloseTo((2 * 1000) / 150, 5);
  });

  it('other devices are ignored when one is configured; the first one is adopted when none is', () => {
    const s = initialState('derm-01');
    onLesion(s, lesionMessage({ deviceId: 'derm-02' }), 0);
    expect(s.lesion).toBeNull();
    const t = initialState(null);
    onStatus(t, statusMessage('online', { deviceId: 'derm-07' }));
    expect(t.deviceId).toBe('derm-07');
  });
});
