/**
 * Cheap file-system checks before GStreamer is involved: they give the clearest message for the most
 * common mistakes (no camera plugged in, wrong path) and spare a pipeline build per retry.
 */
import { accessSync, constants, statSync, type Stats } from 'node:fs';
import { CaptureError } from './errors.js';
import { noDevice } from './classify_gst_error.js';
import type { SourceSpec } from './source_spec.js';

/** The reason the source certainly cannot open right now, or undefined if it may. */
export function preflight(spec: SourceSpec): CaptureError | undefined {
  switch (spec.kind) {
    case 'v4l2': {
      const st = statOrCode(spec.device);
      if (typeof st === 'string') return st === 'ENOENT' || st === 'ENOTDIR' ? noDevice(spec.device) : permissionOr(spec.device, st);
      if (!st.isCharacterDevice()) {
        return new CaptureError('NO_DEVICE', `${spec.device} is not a camera (not a device node)`, {
          hint: 'cameras are /dev/videoN; list them with `ls /dev/video*` or `v4l2-ctl --list-devices`',
        });
      }
      try {
        accessSync(spec.device, constants.R_OK | constants.W_OK);
      } catch {
        return permissionOr(spec.device, 'EACCES');
      }
      return undefined;
    }
    case 'file': {
      const st = statOrCode(spec.path);
      if (st === 'ENOENT' || st === 'ENOTDIR') {
        return new CaptureError('NOT_FOUND', `video file ${spec.path} does not exist`, {
          hint: 'check the path given after file: (relative paths are resolved against the working directory)',
        });
      }
      if (typeof st === 'string') return permissionOr(spec.path, st);
      if (st.isDirectory()) {
        return new CaptureError('BAD_SOURCE', `${spec.path} is a folder, not a video`, { hint: `to play its still images use images:${spec.path}` });
      }
      return undefined;
    }
    case 'images':
    case 'test':
    case 'gst':
      return undefined;
  }
}

function statOrCode(p: string): Stats | string {
  try {
    return statSync(p);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? 'EUNKNOWN';
  }
}

function permissionOr(p: string, code: string): CaptureError {
  if (code === 'EACCES' || code === 'EPERM') {
    return new CaptureError('PERMISSION', `no permission to open ${p}`, {
      hint: p.startsWith('/dev/')
        ? 'add the service user to the `video` group (`sudo usermod -aG video $USER`, then log in again) or install the udev rule from deploy/jetson'
        : 'check the file permissions',
    });
  }
  return new CaptureError('RUNTIME', `cannot open ${p}: ${code}`);
}
