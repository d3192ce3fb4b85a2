#!/usr/bin/env node
// Each open GStreamer source holds two of libuv's pool threads (gstreamer-superficial's bus and appsink
// pulls) and sharp and fs need theirs: 4 (the default) is too few. Must be set before any pool work.
process.env.UV_THREADPOOL_SIZE ??= '8';
// The CLI is compiled TypeScript; `npm run build` makes dist/.
import('../dist/src/service/cli.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/src/service/cli.js')) {
    console.error('dermstream: not built yet. Run `npm ci && npm run build` in the project folder first.');
    process.exit(2);
  }
  throw err;
});
