import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerBridge } from './cli_bridge.js';
import { registerConfig } from './cli_config.js';
import { registerDoctor } from './cli_doctor.js';
import { registerExport } from './cli_export.js';
import { registerEval, registerQuantize, registerTrain } from './cli_model.js';
import { registerCompare, registerCv, registerFolds } from './cli_cv.js';
import { registerRun } from './cli_run.js';
import { registerSign } from './cli_sign.js';

const program = new Command();
program
  .name('dermstream')
  .description('point-of-care skin-lesion analysis: capture → multi-task network → steady verdicts over MQTT')
  .version(packageVersion(), '-V, --version', 'print the version and exit')
  // The program's own options only before the subcommand: `quantize --version 1.1.0` is the model's version,
  // which commander otherwise took for the program's --version (it printed 0.1.0 and quit).
  .enablePositionalOptions()
  .showHelpAfterError();
registerRun(program);
registerConfig(program);
registerDoctor(program);
registerTrain(program);
registerEval(program);
registerQuantize(program);
registerFolds(program);
registerCv(program);
registerCompare(program);
registerExport(program);
registerBridge(program);
registerSign(program);
// `dermstream` alone is the main job, as a bedside device runs it.
const args = process.argv.slice(2);
const argv = args.length === 0 || args[0].startsWith('-') && !['-h', '--help', '-V', '--version'].includes(args[0]) ? [...process.argv.slice(0, 2), 'run', ...args] : process.argv;
program.parseAsync(argv).catch((err: unknown) => {
  console.error(`dermstream: ${(err as Error).message}`);
  process.exit(1);
});

/** The version in package.json, found upwards from this file (src/service or dist/src/service). */
function packageVersion(): string {
  for (const up of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'dermstream' && pkg.version) return pkg.version;
    } catch {
      /* not there */
    }
  }
  return 'unknown';
}
