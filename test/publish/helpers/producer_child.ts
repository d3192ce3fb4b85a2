/**
 * A producer process for the kill -9 test: `node --import tsx producer_child.ts <stateDir> <brokerUrl> <deviceId> <count> <intervalMs>`.
 * Publishes `count` label-changing events (each one a lesion message) and prints `durable <messageId>` once each is
 * on disk, then idles until killed.
 */
import { createPublisher } from '../../../src/publish/index.js';
import { MODEL, makeEvent } from './fixtures.js';

const [stateDir, brokerUrl, deviceId, countArg, intervalArg] = process.argv.slice(2);
const count = Number(countArg);
const interval = Number(intervalArg);
const pub = await createPublisher({ brokerUrl, deviceId, stateDir, model: MODEL, reconnectPeriodMs: 100, rates: { liveMaxHz: 0 } });
process.stdout.write(`ready ${pub.sessionId}\n`);
let i = 0;
const tick = () => {
  const r = pub.publishEvent(makeEvent({ seq: i, state: 'stable', label: i % 2 ? 'malignant' : 'benign', changed: true }));
  i++;
  void r.lesion!.durable.then(() => process.stdout.write(`durable ${r.lesion!.messageId}\n`));
  if (i < count) setTimeout(tick, interval);
};
tick();
setInterval(() => undefined, 1 << 30);
