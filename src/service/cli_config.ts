/**
 * `dermstream config --check` (validate, exit 0 or 78) and `dermstream config --print` (the effective
 * configuration as YAML, secrets masked; `--sources` adds where each value came from: default, file, env, flag, or
 * the model's manifest for the operating point).
 */
import type { Command } from 'commander';
import { addConfigFlags } from './config/flags.js';
import { loadConfig, type LoadedConfig } from './config/load.js';
import { isConfigError, EX_CONFIG } from './config/errors.js';
import { printConfig } from './config/print.js';

/**
 * Loads the configuration for a command; on a ConfigError prints it to stderr, sets exit code 78 and returns
 * undefined (the caller returns). For `run` too: `const loaded = loadOrReport(cmd.opts()); if (!loaded) return;`
 */
export function loadOrReport(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): LoadedConfig | undefined {
  try {
    return loadConfig({ flags, env });
  } catch (err) {
    if (!isConfigError(err)) throw err;
    process.stderr.write(`dermstream: ${(err as Error).message}\n`);
    process.exitCode = EX_CONFIG;
    return undefined;
  }
}

export function registerConfig(program: Command): Command {
  const cmd = program
    .command('config')
    .description('validate (--check) or show (--print) the effective configuration: file < DERMSTREAM_* env < flags')
    .option('--check', 'validate; exit 0 when valid, 78 (EX_CONFIG) when not')
    .option('--print', 'print the effective configuration as YAML (secrets shown as ***)')
    .option('--sources', 'with --print: comment each value with its origin (default, file:line, env, flag, model)');
  addConfigFlags(cmd);
  cmd.action((o: Record<string, unknown>) => {
    const loaded = loadOrReport(o);
    if (!loaded) return;
    for (const n of loaded.notices) process.stderr.write(`dermstream: note: ${n}\n`);
    if (o.print || !o.check) process.stdout.write(printConfig(loaded.config, o.sources ? { sources: loaded.sources } : {}));
    if (o.check) process.stderr.write(`configuration OK${loaded.file ? ` (${loaded.file})` : ' (built-in defaults, no file)'}\n`);
  });
  return cmd;
}
