import { Command } from 'commander';
import { registerBridge } from './cli_bridge.js';
import { registerConfig } from './cli_config.js';
import { registerDoctor } from './cli_doctor.js';
import { registerExport } from './cli_export.js';
import { registerEval, registerQuantize, registerTrain } from './cli_model.js';
import { registerRun } from './cli_run.js';

const program = new Command();
program
  .name('dermstream')
  .description('point-of-care skin-lesion analysis: capture → multi-task network → steady verdicts over MQTT')
  .showHelpAfterError();
registerRun(program);
registerConfig(program);
registerDoctor(program);
registerTrain(program);
registerEval(program);
registerQuantize(program);
registerExport(program);
registerBridge(program);
// `dermstream` alone is the main job, as a bedside device runs it.
const args = process.argv.slice(2);
const argv = args.length === 0 || args[0].startsWith('-') && !['-h', '--help', '-V', '--version'].includes(args[0]) ? [...process.argv.slice(0, 2), 'run', ...args] : process.argv;
program.parseAsync(argv).catch((err: unknown) => {
  console.error(`dermstream: ${(err as Error).message}`);
  process.exit(1);
});
