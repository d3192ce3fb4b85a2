/** `dermstream doctor`: is this machine ready to run the configured service? Exit 0, 1 (a check failed) or 78 (config). */
import type { Command } from 'commander';
import { addConfigFlags } from './config/flags.js';
import { loadOrReport } from './cli_config.js';
import { DOCTOR_CHECKS, formatDoctor, runDoctor } from './doctor.js';

export function registerDoctor(program: Command): Command {
  const cmd = program
    .command('doctor')
    .description(`check the installation for the configured source, model and broker: ${DOCTOR_CHECKS.join(', ')}`)
    .option('--skip <checks>', 'comma-separated checks to skip, e.g. broker,backend')
    .option('--timeout <ms>', 'timeout of each external probe (camera, broker)', (v) => parseInt(v, 10), 5000)
    .option('--json', 'print the results as JSON');
  addConfigFlags(cmd);
  cmd.action(async (o: Record<string, unknown>) => {
    const loaded = loadOrReport(o);
    if (!loaded) return;
    const skip = typeof o.skip === 'string' ? o.skip.split(',').map((s) => s.trim()) : [];
    const results = await runDoctor(loaded.config, { skip, timeoutMs: o.timeout as number });
    if (o.json) process.stdout.write(`${JSON.stringify({ config: loaded.file ?? null, results }, null, 2)}\n`);
    else {
      process.stdout.write(`OK    config     ${loaded.file ?? 'built-in defaults (no file)'}; device ${loaded.config.deviceId}\n`);
      for (const n of loaded.notices) process.stdout.write(`                 note: ${n}\n`);
      process.stdout.write(`${formatDoctor(results)}\n`);
    }
    if (results.some((r) => r.status === 'FAIL')) process.exitCode = 1;
  });
  return cmd;
}
