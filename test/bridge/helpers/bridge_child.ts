/**
 * A bridge worker process for the kill -9 test: `node --import tsx bridge_child.ts <brokerUrl> <out> <group>`.
 * Prints `ready` once subscribed and `stats <json>` every 50 ms; runs until killed.
 */
import { startBridge } from '../../../src/bridge/index.js';

const [brokerUrl, out, group] = process.argv.slice(2);
const bridge = await startBridge({ brokerUrl: brokerUrl!, out: out!, group: group!, sessionExpirySec: 600 });
process.stdout.write('ready\n');
setInterval(() => process.stdout.write(`stats ${JSON.stringify({ written: bridge.stats().written, received: bridge.stats().received })}\n`), 50);
