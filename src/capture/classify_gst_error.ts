/**
 * Turns GStreamer's words (a gst_parse_launch failure, or an `error` message from the bus) into a
 * CaptureError with a code and an actionable hint. Pure: it only reads strings.
 */
import { CaptureError } from './errors.js';
import { elementForCaps, installHint } from './plugin_packages.js';

/** What gstreamer-superficial hands us for a bus `error` message (plus any other structure fields). */
export interface GstBusError {
  message?: string;
  debug?: string;
  /** Path of the element that posted it, e.g. `/GstPipeline:pipeline0/GstV4l2Src:v4l2src0`. */
  name?: string;
  _src_element_name?: string;
}

export interface ErrorContext {
  /** The source id as the user gave it, for the message. */
  source: string;
  /** The camera device node, for v4l2 sources. */
  device?: string;
  /** The full launch description we tried, for parse errors. */
  description?: string;
  /** True for `gst:` sources, whose description the user wrote. */
  userDescription?: boolean;
}

/** A failure of `new Pipeline(description)`, i.e. of gst_parse_launch. */
export function classifyParseError(gstMessage: string, ctx: ErrorContext): CaptureError {
  const noElement = /no element "([^"]+)"/.exec(gstMessage);
  if (noElement) {
    const element = noElement[1]!;
    return new CaptureError('MISSING_PLUGIN', `GStreamer element "${element}" is not installed (needed by ${ctx.source})`, {
      hint: installHint(element),
      element,
      gstMessage,
    });
  }
  const where = ctx.userDescription ? 'the gst: description' : 'the pipeline';
  let hint = `check ${where}: ${ctx.description ?? ''}`.trim();
  if (/could not link|link/.test(gstMessage) && ctx.userDescription) {
    hint = 'a gst: description must end in raw video (e.g. `... ! video/x-raw`); dermstream appends `videoconvert ! ... ! appsink`, so do not end it in a sink';
  } else if (/no property/.test(gstMessage)) {
    hint = `an element has no such property; list its properties with \`gst-inspect-1.0 <element>\`. Pipeline: ${ctx.description ?? ''}`;
  }
  return new CaptureError('PARSE', `GStreamer cannot parse ${where} of ${ctx.source}: ${gstMessage}`, { hint, gstMessage });
}

/** An `error` message from the bus of a running (or starting) pipeline. */
export function classifyBusError(msg: GstBusError, ctx: ErrorContext): CaptureError {
  const gstMessage = msg.message ?? 'unknown GStreamer error';
  const gstDebug = msg.debug;
  const text = `${gstMessage}\n${gstDebug ?? ''}`;
  const element = msg._src_element_name;
  const base = { gstMessage, ...(gstDebug !== undefined && { gstDebug }), ...(element !== undefined && { element }) };
  const dev = ctx.device ?? 'the camera';

  // e.g. "Missing decoder: H.264 (High Profile) (video/x-h264, stream-format=..." — the name may hold parentheses.
  const missing = /Missing (decoder|demuxer|element|encoder|parser)[^:\n]*: (.+?) \(([a-z]+\/[A-Za-z0-9.+-]+)[,)]/.exec(text);
  if (missing || /missing a plug-in/i.test(gstMessage)) {
    const what = missing ? `${missing[2]!.trim()} ${missing[1]}` : 'decoder for this format';
    const caps = missing?.[3];
    const needed = caps !== undefined ? elementForCaps(caps) : undefined;
    return new CaptureError('MISSING_PLUGIN', `cannot play ${ctx.source}: no ${what} is installed${caps ? ` (for ${caps})` : ''}`, {
      ...base,
      ...(needed !== undefined && { element: needed }),
      hint: needed !== undefined ? installHint(needed) : 'install the GStreamer plug-in for this format (gstreamer1.0-libav covers most codecs), or convert the video to MJPEG/AVI',
    });
  }

  if (/Cannot identify device|No such file or directory/.test(text) && /v4l2/i.test(`${msg.name ?? ''}${element ?? ''}`)) {
    return noDevice(dev, base);
  }
  if (/Permission denied/i.test(text)) {
    return new CaptureError('PERMISSION', `no permission to open ${ctx.device ?? ctx.source}`, {
      ...base,
      hint: 'add the service user to the `video` group (`sudo usermod -aG video $USER`, then log in again) or install the udev rule from deploy/jetson',
    });
  }
  if (/busy/i.test(gstMessage)) {
    return new CaptureError('BUSY', `${dev} is busy: another program is using it`, {
      ...base,
      hint: `find it with \`fuser ${ctx.device ?? '/dev/video*'}\` and close it (a browser, cheese, another dermstream)`,
    });
  }
  if (/isn't a device|It isn't a v4l2 driver|not a capture device|is not a video capture device/i.test(text)) {
    return new CaptureError('NO_DEVICE', `${dev} is not a video capture device: ${gstMessage}`, {
      ...base,
      hint: 'list the cameras with `v4l2-ctl --list-devices` (package v4l-utils); a UVC camera often has two nodes and only the first one captures',
    });
  }
  if (/not-negotiated|could not negotiate|cannot capture at|Failed to (set|try) format|Device '.*' does not support/i.test(text)) {
    return new CaptureError('NOT_NEGOTIATED', `${ctx.source} cannot deliver the requested format: ${gstMessage}`, {
      ...base,
      hint: ctx.device
        ? `list what the camera offers with \`v4l2-ctl -d ${ctx.device} --list-formats-ext\` and request one of those sizes/rates`
        : 'the source cannot produce the requested size/format; drop the size request or add a converter to the gst: description',
    });
  }
  if (/Resource not found/i.test(gstMessage) || /No such file/.test(text)) {
    return new CaptureError('NOT_FOUND', `${ctx.source}: file not found`, { ...base, hint: 'check the path (relative paths are resolved against the working directory)' });
  }
  if (/text file|Could not determine type of stream|decode|not a valid|demux/i.test(gstMessage)) {
    return new CaptureError('DECODE', `${ctx.source} is not a video GStreamer can decode: ${gstMessage}`, {
      ...base,
      hint: 'check that the file is a complete video (e.g. MJPEG in AVI, H.264 in MP4 with gstreamer1.0-libav installed)',
    });
  }
  if (/Could not read from resource|poll error|Could not open/i.test(gstMessage) && ctx.device) {
    return new CaptureError('RUNTIME', `lost ${dev}: ${gstMessage}`, { ...base, hint: 'the camera was unplugged or reset; check the cable and `dmesg`' });
  }
  return new CaptureError('RUNTIME', `${ctx.source}: ${gstMessage}${element ? ` (from ${element})` : ''}`, {
    ...base,
    hint: 'see gstDebug for GStreamer\'s details; run with GST_DEBUG=3 for more',
  });
}

export function noDevice(device: string, details: { gstMessage?: string; cause?: unknown } = {}): CaptureError {
  return new CaptureError('NO_DEVICE', `camera ${device} does not exist`, {
    ...details,
    hint: 'check the cable / `ls /dev/video*` / udev rule',
  });
}
