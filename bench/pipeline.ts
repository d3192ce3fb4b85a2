/**
 * Whole-pipeline benchmark: a 640×480 camera-rate source (GStreamer videotestsrc at 30 frames/s, or
 * --source) through the quality gate, latest-only inference in the worker, contours, debounce and the
 * MQTT publisher (embedded broker) — against the network alone on the same frames. The default source is
 * the bundled clip re-timed to 30 frames/s by GStreamer's videorate, looped. Prints a table and
 * writes bench/results/pipeline.{json,md}. Each engine of --engines runs in turn on the same source, so
 * tfjs and ONNX Runtime are compared under the same conditions; --fast plays the source as fast as it decodes
 * (the network-bound case), otherwise at its 30 frames/s.
 *
 *   npm run build && node dist/bench/pipeline.js [--frames 10000] [--source test] [--model models/default]
 *     [--engines tfjs,onnx] [--onnx-threads 1] [--fast] [--out pipeline]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { firstValueFrom, take, toArray } from 'rxjs';
import { openSource } from '../src/capture/index.js';
import { startInferenceWorker, type InferenceEngineOptions } from '../src/model/inference_client.js';
import type { PipelineEvent } from '../src/pipeline/index.js';
import { packageRoot } from '../src/service/paths.js';
import { startRun, type Logger } from '../src/service/run.js';
import { arg } from './args.js';

function pct(v: number[], p: number): number {
  if (v.length === 0) return NaN;
  const s = [...v].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

async function measure(engine: InferenceEngineOptions): Promise<{ rows: Array<[string, string]>; json: Record<string, unknown>; backend: string }> {
  const frames = parseInt(arg('frames', '10000'), 10);
  const realtime = !process.argv.includes('--fast');
  // The bundled dermatoscope clip re-timed to 30 frames/s and looped: real lesions at a camera's rate.
  const demo = join(packageRoot(), 'assets', 'demo', 'dermatoscope-demo.avi');
  const source = arg('source', `gst:filesrc location=${demo} ! avidemux ! jpegdec ! videorate ! video/x-raw,framerate=30/1`);
  const modelDir = arg('model', join(packageRoot(), 'models', 'default'));
  const size = { width: 640, height: 480, fps: 30 };
  const quiet: Logger = { info: () => undefined, warn: (o, m) => console.error('warn', m ?? '', JSON.stringify(o)), error: (o, m) => console.error('error', m ?? '', JSON.stringify(o)) };

  // 1. The network alone, sequentially, on frames of the same source.
  const sample = await firstValueFrom(openSource(source, { ...size, loop: true }).frames$.pipe(take(60), toArray()));
  const alone = await startInferenceWorker(modelDir, 'auto', engine);
  for (const f of sample.slice(0, 10)) await alone.infer(f);
  const t0 = performance.now();
  for (const f of sample.slice(10)) await alone.infer(f);
  const aloneFps = (sample.length - 10) / ((performance.now() - t0) / 1000);
  const backend = alone.identity.backend;
  await alone.close();

  // 2. The whole pipeline at camera rate.
  const state = mkdtempSync(join(tmpdir(), 'dermstream-bench-'));
  const latency: number[] = [];
  const addedAll: number[] = [];
  const addedNoQueue: number[] = [];
  const queue: number[] = [];
  let firstAt = 0;
  let lastAt = 0;
  let processedAtWarm = 0;
  let memWarm: { numTensors: number; numBytes: number } | undefined;
  let rssWarm = 0;
  const handle = await startRun(
    {
      source,
      // --isolate true: GStreamer in a child process, as the service runs it by default (capture.isolate).
      capture: { ...size, realtime, loop: true, isolate: arg('isolate', 'false') === 'true' },
      modelDir,
      backend: 'auto',
      engine,
      pipeline: {},
      brokerUrl: '',
      embedded: { host: '127.0.0.1', tcpPort: 0, wsPort: false },
      publisher: { prefix: 'bench', rates: { liveMaxHz: 10, snapshotMaxHz: 2 } },
      deviceId: 'bench',
      stateDir: state,
      maxFrames: frames,
      summary: false,
    },
    quiet,
    {
      onEvent: (e) => {
        const ev = e as PipelineEvent;
        if (ev.stages.inferCallMs <= 0) return;
        // onEvent runs right after publishEvent: this is capture → publish.
        const l = performance.now() - ev.frame.capturedAt.monoMs;
        latency.push(l);
        addedAll.push(l - ev.stages.inferMs);
        addedNoQueue.push(l - ev.stages.inferCallMs - ev.stages.queueMs);
        queue.push(ev.stages.queueMs);
        lastAt = performance.now();
        if (!firstAt) firstAt = lastAt;
      },
    },
  );
  const warm = setInterval(() => {
    const c = handle.pipelineCounters();
    if (!memWarm && c.processed >= 100) {
      processedAtWarm = c.processed;
      rssWarm = process.memoryUsage().rss;
      // After the run closed the worker, memory() rejects: the sample is then simply missing.
      void handle.inference.memory().then((m) => (memWarm = m)).catch(() => undefined);
    }
    if (c.framesIn % 1000 < 30) process.stderr.write(`\r${c.framesIn}/${frames} frames, ${c.processed} processed`);
  }, 1000);
  const memEndPromise = new Promise<{ numTensors: number; numBytes: number }>((resolve) => {
    const poll = setInterval(() => {
      if (handle.pipelineCounters().framesIn >= frames - 5) {
        clearInterval(poll);
        void handle.inference.memory().then(resolve, () => resolve({ numTensors: -1, numBytes: -1 }));
      }
    }, 200);
  });
  const memEnd = await memEndPromise;
  const rssEnd = process.memoryUsage().rss;
  const summary = await handle.done;
  clearInterval(warm);
  process.stderr.write('\n');
  rmSync(state, { recursive: true, force: true });
  const c = handle.pipelineCounters();
  const pipelineFps = (latency.length - 1) / ((lastAt - firstAt) / 1000);
  const rows: Array<[string, string]> = [
    ['engine (backend)', `${engine.engine} (${backend}${engine.onnx?.threads ? `, ${engine.onnx.threads} threads` : ''})`],
    ['source rate', realtime ? '30 frames/s (real time)' : 'as fast as it decodes (--fast)'],
    ['frames captured', String(summary.framesCaptured)],
    ['processed / dropped (latest-only) / rejected (quality)', `${c.processed} / ${c.dropped} / ${c.rejectedTotal}`],
    ['network alone, frames/s', aloneFps.toFixed(1)],
    ['whole pipeline, processed frames/s', pipelineFps.toFixed(1)],
    ['ratio (target ≥ 0.9)', (pipelineFps / aloneFps).toFixed(2)],
    ['capture → publish latency p50 / p95 / p99 ms', `${pct(latency, 50).toFixed(1)} / ${pct(latency, 95).toFixed(1)} / ${pct(latency, 99).toFixed(1)}`],
    ['added by everything but the network (latency − model ms) p50 / p95 / p99', `${pct(addedAll, 50).toFixed(1)} / ${pct(addedAll, 95).toFixed(1)} / ${pct(addedAll, 99).toFixed(1)}`],
    ['  of which waiting for the busy network (mailbox) p50', pct(queue, 50).toFixed(1)],
    ['  processing only (latency − infer call − mailbox wait) p50 / p95 / p99 (target p50 ≤ 15)', `${pct(addedNoQueue, 50).toFixed(1)} / ${pct(addedNoQueue, 95).toFixed(1)} / ${pct(addedNoQueue, 99).toFixed(1)}`],
    [`tensors after ${processedAtWarm} → ${c.processed} processed`, `${memWarm?.numTensors ?? '?'} → ${memEnd.numTensors}`],
    ['RSS MB after warm-up → at the end', `${(rssWarm / 1e6).toFixed(0)} → ${(rssEnd / 1e6).toFixed(0)}`],
  ];
  const json = { engine, realtime, frames, aloneFps, pipelineFps, latency: { p50: pct(latency, 50), p95: pct(latency, 95), p99: pct(latency, 99) }, added: { p50: pct(addedAll, 50), p95: pct(addedAll, 95), p99: pct(addedAll, 99) }, processingOnly: { p50: pct(addedNoQueue, 50), p95: pct(addedNoQueue, 95), p99: pct(addedNoQueue, 99) }, counters: c, tensors: { warm: memWarm, end: memEnd }, rss: { warm: rssWarm, end: rssEnd }, at: new Date().toISOString() };
  return { rows, json, backend };
}

async function main(): Promise<void> {
  const engines = arg('engines', 'tfjs,onnx').split(',') as Array<'tfjs' | 'onnx'>;
  const threads = process.argv.includes('--onnx-threads') ? parseInt(arg('onnx-threads', '1'), 10) : undefined;
  const results: Array<{ rows: Array<[string, string]>; json: Record<string, unknown>; backend: string }> = [];
  const load0 = loadavg()[0];
  for (const e of engines) results.push(await measure({ engine: e, onnx: { threads } }));
  const load1 = loadavg()[0];
  const frames = parseInt(arg('frames', '10000'), 10);
  const source = arg('source', 'demo clip via videorate');
  const modelDir = arg('model', join(packageRoot(), 'models', 'default'));
  const machine = `${cpus().length}× ${cpus()[0]?.model ?? 'cpu'} (no GPU), Node ${process.version}; 1-min load average ${load0.toFixed(1)} → ${load1.toFixed(1)} (other work shares these cores)`;
  const header = `| measure | ${results.map((r) => r.backend).join(' | ')} |\n|---|${results.map(() => '---|').join('')}`;
  const body = results[0].rows.map(([k], i) => `| ${k} | ${results.map((r) => r.rows[i][1]).join(' | ')} |`).join('\n');
  const md = `Pipeline: ${source.length > 60 ? 'demo clip via videorate' : source} 640×480 @ 30 frames/s, ${frames} frames per engine, model ${modelDir}, on ${machine}, ${new Date().toISOString()}\n\n${header}\n${body}\n`;
  console.log(md);
  const out = join(packageRoot(), 'bench', 'results');
  const name = arg('out', 'pipeline');
  const base = name.includes('/') ? name : join(out, name);
  mkdirSync(dirname(base), { recursive: true });
  writeFileSync(`${base}.json`, JSON.stringify({ machine, runs: results.map((r) => ({ backend: r.backend, ...r.json })) }, null, 2));
  writeFileSync(`${base}.md`, md);
}

main().catch((err: Error) => {
  console.error(`bench/pipeline: ${err.stack ?? err.message}`);
  process.exit(1);
});
