import type { Command } from 'commander';
import { join } from 'node:path';
import { selectBackend, type BackendPreference } from '../model/backend.js';
import { DEFAULT_ONNX_FILE, exportOnnx } from '../model/onnx/export.js';
import { defaultModelDir } from './paths.js';

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('write the trained network in another format into its model folder (hashed in manifest.json)')
    .requiredOption('--format <format>', 'onnx')
    .option('--model <dir>', 'model folder', defaultModelDir())
    .option('--out <file>', `dense graph's file in the model folder (heads go beside it as <stem>.box_head.onnx, <stem>.mask_head.onnx); default <model>/${DEFAULT_ONNX_FILE}`)
    .option('--backend <name>', 'tfjs backend used to read the weights: auto | tensorflow | wasm | cpu', 'auto')
    .action(async (o) => {
      if (o.format !== 'onnx') throw new Error(`--format ${o.format} is not supported; the only export format is onnx`);
      await selectBackend(o.backend as BackendPreference);
      const { manifest, written } = exportOnnx(o.model, o.out ?? join(o.model, DEFAULT_ONNX_FILE));
      for (const w of written) console.log(`wrote ${join(o.model, w.path)} (${(w.bytes / 1e6).toFixed(1)} MB)`);
      console.log(`manifest.json updated: ${manifest.files.length} files hashed, ONNX opset ${manifest.onnx?.opset}; re-sign the manifest if your deployment signs models`);
    });
}
