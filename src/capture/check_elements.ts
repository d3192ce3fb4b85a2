/**
 * Which GStreamer elements exist on this machine, without shelling out to gst-inspect-1.0: each name
 * is parsed in a throw-away (never played) pipeline; "no element" means the plug-in is missing.
 * For `doctor` and for failing fast before a camera is opened.
 */
import { gstreamer } from './gst_binding.js';
import { packageForElement, installHint } from './plugin_packages.js';
import { CaptureError, isCaptureError } from './errors.js';
import type { SourceSpec } from './source_spec.js';

export interface ElementCheck {
  element: string;
  present: boolean;
  /** Debian/JetPack package that ships it, when known. */
  package?: string;
  /** What to do when it is missing. */
  hint?: string;
}

const cache = new Map<string, boolean>();

export function checkElements(names: readonly string[]): ElementCheck[] {
  return names.map((element) => {
    const present = elementExists(element);
    const pkg = packageForElement(element);
    return {
      element,
      present,
      ...(pkg !== undefined && { package: pkg }),
      ...(!present && { hint: installHint(element) }),
    };
  });
}

function elementExists(element: string): boolean {
  if (!/^[A-Za-z0-9_-]+$/.test(element)) throw new CaptureError('BAD_SOURCE', `"${element}" is not an element name`);
  const known = cache.get(element);
  if (known !== undefined) return known;
  let present: boolean;
  try {
    // Two unlinked elements: nothing to link, so the only possible failure is a missing factory.
    new (gstreamer().Pipeline)(`${element} fakesink`);
    present = true;
  } catch (err) {
    if (isCaptureError(err)) throw err; // the binding itself is missing
    present = !/no element/.test((err as Error).message);
  }
  cache.set(element, present);
  return present;
}

/** Elements a source needs beyond what its parse would reveal anyway; for `doctor`. */
export function elementsFor(spec: SourceSpec): string[] {
  const common = ['appsink', 'videoconvert', 'videoscale'];
  switch (spec.kind) {
    case 'v4l2':
      return ['v4l2src', 'jpegdec', 'decodebin', ...common];
    case 'file':
      return ['filesrc', 'decodebin', ...common];
    case 'test':
      return ['videotestsrc', ...common];
    case 'gst':
      return [...new Set([...elementNamesIn(spec.description), ...common])];
    case 'images':
      return [];
  }
}

/** Element factory names in a launch description (first word of each `!`-separated part; caps skipped). */
export function elementNamesIn(description: string): string[] {
  return description
    .split('!')
    .map((part) => part.trim().split(/\s+/)[0] ?? '')
    .filter((w) => /^[A-Za-z][A-Za-z0-9_-]*$/.test(w) && !w.includes('/'));
}
