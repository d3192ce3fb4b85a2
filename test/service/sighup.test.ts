/** SIGHUP (issue 10 item 14): re-validates the configuration and logs; never kills the process. */
import { describe, expect, it } from 'vitest';
import { changedKeys } from '../../src/service/config/changed_keys.js';
import { handleSighup } from '../../src/service/sighup.js';

describe('changedKeys', () => {
  it('lists the dotted keys that differ, arrays as leaves', () => {
    expect(changedKeys({ a: 1, b: { c: 2, d: [1, 2] } }, { a: 1, b: { c: 3, d: [1, 2] }, e: true })).toEqual(['b.c', 'e']);
    expect(changedKeys({ x: [1] }, { x: [1, 2] })).toEqual(['x']);
  });
});

describe('SIGHUP', () => {
  const lines: Array<{ level: string; msg?: string; obj: object }> = [];
  const logger = { info: (obj: object, msg?: string) => lines.push({ level: 'info', obj, msg }), warn() {}, error: (obj: object, msg?: string) => lines.push({ level: 'error', obj, msg }) };
  it('is handled (the process survives), reports changed keys, masks secrets, and reports an invalid file', async () => {
    let next: unknown = { mqtt: { password: 'old', liveMaxHz: 10 } };
    const off = handleSighup({ reload: () => next, current: { mqtt: { password: 'old', liveMaxHz: 10 } }, logger });
    try {
      process.kill(process.pid, 'SIGHUP');
      await new Promise((r) => setTimeout(r, 50));
      expect(lines.at(-1)!.msg).toMatch(/valid and unchanged/);
      next = { mqtt: { password: 'new', liveMaxHz: 5 } };
      process.kill(process.pid, 'SIGHUP');
      await new Promise((r) => setTimeout(r, 50));
      expect(lines.at(-1)!.msg).toMatch(/2 key\(s\) differ .*mqtt\.liveMaxHz, mqtt\.password \(secret\).*systemctl restart/);
      expect(JSON.stringify(lines)).not.toContain('new');
      next = undefined;
      const bad = () => {
        throw new Error('mqtt.liveMaxHz = -1: a number, 0–120');
      };
      off();
      const off2 = handleSighup({ reload: bad, current: {}, logger });
      process.kill(process.pid, 'SIGHUP');
      await new Promise((r) => setTimeout(r, 50));
      off2();
      expect(lines.at(-1)).toMatchObject({ level: 'error' });
      expect(lines.at(-1)!.msg).toMatch(/NOT valid.*keeps running.*mqtt\.liveMaxHz/);
    } finally {
      off();
    }
  });
});
