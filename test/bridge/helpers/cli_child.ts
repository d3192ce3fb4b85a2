/** `node --import tsx cli_child.ts bridge --broker … --out …`: the bridge command as the dermstream CLI registers it. */
import { Command } from 'commander';
import { registerBridge } from '../../../src/service/cli_bridge.js';

const program = new Command();
program.name('dermstream').exitOverride();
registerBridge(program);
await program.parseAsync(process.argv);
process.exit(process.exitCode ?? 0);
