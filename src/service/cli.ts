import { Command } from 'commander';
import { registerEval, registerQuantize, registerTrain } from './cli_model.js';

const program = new Command();
program.name('dermstream').description('point-of-care skin-lesion analysis: capture → multi-task network → steady verdicts over MQTT');
registerTrain(program);
registerEval(program);
registerQuantize(program);
program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(`dermstream: ${(err as Error).message}`);
  process.exit(1);
});
