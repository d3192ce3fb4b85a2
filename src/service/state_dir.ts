/**
 * Makes sure the state folder (outbox) can be created and written before anything is written there, and
 * says which key to change when it cannot. Node's own `mkdir(…, { recursive: true })` never returns for a
 * path under /proc (measured here on Node 20.20: it retries ENOENT forever), which hung the service at
 * start-up, so the folders are made one level at a time.
 */
import { accessSync, constants, mkdirSync, statSync, statfsSync } from 'node:fs';
import path from 'node:path';

/** statfs f_type of file systems that hold no files of ours (linux/magic.h). */
const VIRTUAL_FS: Record<number, string> = { 0x9fa0: 'procfs', 0x62656572: 'sysfs', 0x64626720: 'debugfs', 0x27e0eb: 'cgroup', 0x63677270: 'cgroup2' };

export class StateDirError extends Error {
  override readonly name = 'StateDirError';
  constructor(
    readonly dir: string,
    readonly reason: string,
  ) {
    super(`cannot use "${dir}" as the state folder: ${reason}`);
  }
}

/** Creates `dir` (and its parents) or throws StateDirError saying why it cannot be used. */
export function prepareStateDir(dir: string): void {
  const abs = path.resolve(dir);
  let existing = abs;
  const missing: string[] = [];
  for (;;) {
    try {
      const st = statSync(existing);
      if (!st.isDirectory()) throw new StateDirError(dir, `${existing} is a file, not a folder`);
      break;
    } catch (err) {
      if (err instanceof StateDirError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR') throw new StateDirError(dir, `a part of ${existing} is a file, not a folder`);
      if (code !== 'ENOENT') throw new StateDirError(dir, `${existing}: ${(err as Error).message}`);
      missing.unshift(path.basename(existing));
      const up = path.dirname(existing);
      if (up === existing) throw new StateDirError(dir, 'no part of the path exists');
      existing = up;
    }
  }
  const fsType = VIRTUAL_FS[Number(statfsSync(existing).type)];
  if (fsType) throw new StateDirError(dir, `${existing} is on ${fsType}, a virtual file system that cannot hold files`);
  try {
    accessSync(existing, constants.W_OK);
  } catch {
    throw new StateDirError(dir, `this user may not write in ${existing}`);
  }
  let at = existing;
  for (const part of missing) {
    at = path.join(at, part);
    try {
      mkdirSync(at);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new StateDirError(dir, `cannot create ${at}: ${(err as Error).message}`);
    }
  }
}
