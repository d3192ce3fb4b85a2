/**
 * Where the bundled demo clip lives, so that `dermstream run` with no source plays it. Found by walking
 * up from this module to the package root: the same code then works from src/ (tsx, vitest) and from
 * the compiled dist/src/, which sit at different depths.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const DEMO_CLIP_RELATIVE_PATH = 'assets/demo/dermatoscope-demo.avi';

/** The dermstream package root (the folder of its package.json). */
export function packageRoot(from: string = path.dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'dermstream') return dir;
      } catch {
        // an unreadable package.json on the way up is not ours; keep climbing
      }
    }
    if (path.dirname(dir) === dir) throw new Error(`dermstream package root not found above ${from}`);
  }
}

/** Absolute path of the bundled demo clip (MJPEG in AVI, 640×480). */
export function demoClipPath(): string {
  return path.join(packageRoot(), DEMO_CLIP_RELATIVE_PATH);
}

/** The demo clip as a source string for openSource(). */
export function defaultDemoSource(): string {
  return `file:${demoClipPath()}`;
}
