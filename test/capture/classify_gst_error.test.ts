import { describe, expect, it } from 'vitest';
import { classifyBusError, classifyParseError } from '../../src/capture/classify_gst_error.js';
import { elementForCaps, installHint, packageForElement } from '../../src/capture/plugin_packages.js';

// Messages as GStreamer 1.22 and gstreamer-superficial actually deliver them (captured on this machine).
const v4l2Missing = {
  message: "Cannot identify device '/dev/video9'.",
  debug: '../sys/v4l2/v4l2_calls.c(608): gst_v4l2_open (): /GstPipeline:pipeline0/GstV4l2Src:v4l2src0:\nsystem error: No such file or directory',
  name: '/GstPipeline:pipeline0/GstV4l2Src:v4l2src0',
  _src_element_name: 'v4l2src0',
};
const h264Missing = {
  message: 'Your GStreamer installation is missing a plug-in.',
  debug:
    '../gst/playback/gstdecodebin2.c(4704): gst_decode_bin_expose (): /GstPipeline:pipeline0/GstDecodeBin:decodebin0:\nno suitable plugins found:\nMissing decoder: H.264 (High Profile) (video/x-h264, stream-format=(string)avc, alignment=(string)au, level=(string)3.1)\n',
  _src_element_name: 'decodebin0',
};

describe('classifyParseError', () => {
  it('names a missing element and the package that has it', () => {
    const e = classifyParseError('no element "jpegdec"', { source: 'v4l2:/dev/video0' });
    expect(e.code).toBe('MISSING_PLUGIN');
    expect(e.element).toBe('jpegdec');
    expect(e.message).toContain('"jpegdec"');
    expect(e.hint).toContain('gstreamer1.0-plugins-good');
  });

  it('says which NVIDIA elements exist only on a Jetson', () => {
    const e = classifyParseError('no element "nvvidconv"', { source: 'gst:nvv4l2camerasrc ! nvvidconv', userDescription: true });
    expect(e.hint).toContain('nvidia-l4t-gstreamer');
    expect(e.hint).toContain('Jetson');
  });

  it("quotes GStreamer's message for a syntax error and tells how to end a gst: description", () => {
    const syntax = classifyParseError('syntax error', { source: 'gst:a ! ! b', userDescription: true, description: 'a ! ! b ! videoconvert' });
    expect(syntax.code).toBe('PARSE');
    expect(syntax.message).toContain('syntax error');
    expect(syntax.gstMessage).toBe('syntax error');
    const link = classifyParseError('could not link fakesink0 to videoconvert0', { source: 'gst:videotestsrc ! fakesink', userDescription: true });
    expect(link.code).toBe('PARSE');
    expect(link.hint).toContain('raw video');
  });
});

describe('classifyBusError', () => {
  it('turns a missing camera into NO_DEVICE with the expected hint', () => {
    const e = classifyBusError(v4l2Missing, { source: 'v4l2:/dev/video9', device: '/dev/video9' });
    expect(e.code).toBe('NO_DEVICE');
    expect(e.message).toBe('camera /dev/video9 does not exist');
    expect(e.hint).toBe('check the cable / `ls /dev/video*` / udev rule');
    expect(e.retryable).toBe(true);
  });

  it('names the decoder decodebin could not find, and its package', () => {
    const e = classifyBusError(h264Missing, { source: 'file:/x.mp4' });
    expect(e.code).toBe('MISSING_PLUGIN');
    expect(e.element).toBe('avdec_h264');
    expect(e.message).toContain('H.264 (High Profile) decoder');
    expect(e.hint).toContain('gstreamer1.0-libav');
    expect(e.retryable).toBe(false);
  });

  it('recognises busy, permission, negotiation, not-found and undecodable input', () => {
    const ctx = { source: 'v4l2:/dev/video0', device: '/dev/video0' };
    expect(classifyBusError({ message: "Device '/dev/video0' is busy", _src_element_name: 'v4l2src0' }, ctx).code).toBe('BUSY');
    expect(classifyBusError({ message: "Could not open device '/dev/video0' for reading and writing.", debug: 'system error: Permission denied' }, ctx).code).toBe(
      'PERMISSION',
    );
    const neg = classifyBusError({ message: 'Internal data stream error.', debug: 'streaming stopped, reason not-negotiated (-4)' }, ctx);
    expect(neg.code).toBe('NOT_NEGOTIATED');
    expect(neg.hint).toContain('--list-formats-ext');
    expect(classifyBusError({ message: 'Resource not found.', debug: 'No such file "/x.avi"' }, { source: 'file:/x.avi' }).code).toBe('NOT_FOUND');
    expect(classifyBusError({ message: 'This appears to be a text file' }, { source: 'file:/etc/passwd' }).code).toBe('DECODE');
  });

  it('keeps anything else as RUNTIME, retryable, with GStreamer words intact', () => {
    const e = classifyBusError({ message: 'Failed after iterations as requested.', _src_element_name: 'identity0' }, { source: 'gst:x' });
    expect(e.code).toBe('RUNTIME');
    expect(e.message).toContain('Failed after iterations as requested.');
    expect(e.element).toBe('identity0');
    expect(e.retryable).toBe(true);
  });
});

describe('plugin packages', () => {
  it('maps the elements of the house table to their packages', () => {
    expect(packageForElement('jpegdec')).toBe('gstreamer1.0-plugins-good');
    expect(packageForElement('v4l2src')).toBe('gstreamer1.0-plugins-good');
    expect(packageForElement('videotestsrc')).toBe('gstreamer1.0-plugins-base');
    expect(packageForElement('videoconvert')).toBe('gstreamer1.0-plugins-base');
    expect(packageForElement('videoscale')).toBe('gstreamer1.0-plugins-base');
    expect(packageForElement('avidemux')).toBe('gstreamer1.0-plugins-good');
    expect(packageForElement('qtdemux')).toBe('gstreamer1.0-plugins-good');
    expect(packageForElement('avdec_h264')).toBe('gstreamer1.0-libav');
    for (const nv of ['nvv4l2decoder', 'nvvidconv', 'nvv4l2camerasrc', 'nvjpegdec']) expect(packageForElement(nv)).toMatch(/nvidia-l4t-gstreamer/);
    expect(packageForElement('toString')).toBeUndefined();
    expect(installHint('somethingodd')).toContain('gst-inspect-1.0 somethingodd');
  });
  it('knows which element handles common caps', () => {
    expect(elementForCaps('video/x-h265, profile=main')).toBe('avdec_h265');
    expect(elementForCaps('video/x-msvideo')).toBe('avidemux');
    expect(elementForCaps('audio/x-foo')).toBeUndefined();
  });
});
