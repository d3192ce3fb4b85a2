#!/usr/bin/env node
// The CLI is compiled TypeScript; `npm run build` makes dist/.
import('../dist/src/service/cli.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/src/service/cli.js')) {
    console.error('dermstream: not built yet. Run `npm ci && npm run build` in the project folder first.');
    process.exit(2);
  }
  throw err;
});
