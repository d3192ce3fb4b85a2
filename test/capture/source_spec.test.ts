import { describe, expect, it } from 'vitest';
import { CaptureError } from '../../src/capture/errors.js';
import { fpsFraction, launchPlans, normalizeRequest, parseSource, quote, SINK_NAME, tail } from '../../src/capture/source_spec.js';

function badSource(fn: () => unknown): CaptureError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CaptureError);
    return err as CaptureError;
  }
  throw new Error('expected a CaptureError');
}

describe('parseSource', () => {
  it('reads each scheme into a spec with a canonical id', () => {
    expect(parseSource('v4l2:/dev/video0')).toEqual({ kind: 'v4l2', id: 'v4l2:/dev/video0', device: '/dev/video0' });
    expect(parseSource('v4l2:2')).toEqual({ kind: 'v4l2', id: 'v4l2:/dev/video2', device: '/dev/video2' });
    expect(parseSource('/dev/video1')).toMatchObject({ kind: 'v4l2', device: '/dev/video1' });
    expect(parseSource('file:clip.avi', '/data')).toEqual({ kind: 'file', id: 'file:/data/clip.avi', path: '/data/clip.avi' });
    expect(parseSource('file:///tmp/a%20b.avi')).toMatchObject({ kind: 'file', path: '/tmp/a b.avi' });
    expect(parseSource('images:stills', '/x')).toEqual({ kind: 'images', id: 'images:/x/stills', folder: '/x/stills' });
    expect(parseSource('test')).toEqual({ kind: 'test', id: 'test', pattern: 'ball' });
    expect(parseSource('test:smpte')).toEqual({ kind: 'test', id: 'test:smpte', pattern: 'smpte' });
    expect(parseSource('  gst: videotestsrc ! video/x-raw ')).toEqual({
      kind: 'gst',
      id: 'gst:videotestsrc ! video/x-raw',
      description: 'videotestsrc ! video/x-raw',
    });
  });

  it('rejects malformed sources with BAD_SOURCE and a hint that helps', () => {
    const e = badSource(() => parseSource('clip.avi'));
    expect(e.code).toBe('BAD_SOURCE');
    expect(e.hint).toContain('file:clip.avi');
    expect(badSource(() => parseSource('')).code).toBe('BAD_SOURCE');
    expect(badSource(() => parseSource('v4l2:')).hint).toContain('/dev/video0');
    expect(badSource(() => parseSource('gst:  ')).code).toBe('BAD_SOURCE');
    expect(badSource(() => parseSource('rtsp://cam/stream')).hint).toContain('gst:');
    // A pattern cannot carry extra launch syntax into the pipeline.
    expect(badSource(() => parseSource('test:ball ! filesink location=/etc/x')).code).toBe('BAD_SOURCE');
  });
});

describe('normalizeRequest', () => {
  it('insists on width and height together and sane numbers', () => {
    expect(badSource(() => normalizeRequest({ width: 640 })).message).toContain('together');
    expect(badSource(() => normalizeRequest({ width: 0, height: 480 })).code).toBe('BAD_SOURCE');
    expect(badSource(() => normalizeRequest({ fps: -1 })).code).toBe('BAD_SOURCE');
    expect(normalizeRequest({}).realtime).toBe(true);
  });
});

describe('launchPlans', () => {
  it('tries a camera as MJPEG, then YUY2, then whatever it offers, each ending in our RGB appsink', () => {
    const plans = launchPlans(parseSource('v4l2:/dev/video0'), { width: 640, height: 480, fps: 30 });
    expect(plans.map((p) => p.label)).toEqual(['MJPEG 640x480@30', 'YUY2 640x480@30', 'camera default format']);
    expect(plans[0]!.description).toBe(
      'v4l2src device="/dev/video0" ! image/jpeg,width=640,height=480,framerate=30/1 ! jpegdec ! ' +
        'videoscale add-borders=true ! video/x-raw,width=640,height=480,pixel-aspect-ratio=1/1 ! ' +
        `videoconvert ! video/x-raw,format=RGB ! appsink name=${SINK_NAME} max-buffers=1 drop=true sync=false enable-last-sample=false`,
    );
    expect(plans[1]!.description).toContain('v4l2src device="/dev/video0" ! video/x-raw,format=YUY2,width=640,height=480,framerate=30/1 ! videoscale');
    expect(plans[2]!.description).toContain('v4l2src device="/dev/video0" ! decodebin ! videoscale');
    for (const p of plans) expect(p).toMatchObject({ sync: false, drop: true });
    // Static chains can be re-played on re-open; decodebin's pads are linked once at parse time.
    expect(plans.map((p) => p.reusable)).toEqual([true, true, false]);
  });

  it('honours a custom camera format order and leaves out what was not asked', () => {
    const plans = launchPlans(parseSource('v4l2:0'), { v4l2Formats: ['yuy2'] });
    expect(plans).toHaveLength(1);
    expect(plans[0]!.description).toMatch(/^v4l2src device="\/dev\/video0" ! video\/x-raw,format=YUY2 ! videoconvert ! /);
  });

  it('plays files at their own rate by default and losslessly as fast as possible on request', () => {
    const spec = parseSource('file:/v/a "b".avi');
    const [rt] = launchPlans(spec);
    expect(rt!.description.startsWith('filesrc location="/v/a \\"b\\".avi" ! decodebin ! videoconvert')).toBe(true);
    expect(rt).toMatchObject({ sync: true, drop: true });
    const [fast] = launchPlans(spec, { realtime: false });
    expect(fast).toMatchObject({ sync: false, drop: false });
    expect(fast!.description).toContain('drop=false sync=false');
    expect(rt!.reusable).toBe(false);
  });

  it('generates the test pattern at the requested size and rate without a scaler', () => {
    const [p] = launchPlans(parseSource('test:smpte'), { width: 320, height: 240, fps: 15 });
    expect(p!.description).toMatch(/^videotestsrc is-live=true pattern=smpte ! video\/x-raw,width=320,height=240,framerate=15\/1 ! videoconvert/);
    expect(p!.description).not.toContain('videoscale');
    expect(p!.reusable).toBe(true);
  });

  it('appends the RGB tail to a gst: description', () => {
    const [p] = launchPlans(parseSource('gst:nvv4l2camerasrc ! nvvidconv ! video/x-raw,format=BGRx'));
    expect(p!.description).toBe(`nvv4l2camerasrc ! nvvidconv ! video/x-raw,format=BGRx ! ${tail({}, { sync: true, drop: true })}`);
    expect(p!.reusable).toBe(false); // we cannot know whether a user's chain survives being re-played
  });

  it('has no GStreamer plan for an image folder', () => {
    expect(() => launchPlans(parseSource('images:/x'))).toThrow(CaptureError);
  });
});

describe('helpers', () => {
  it('writes frame rates as exact reduced fractions', () => {
    expect(fpsFraction(30)).toBe('30/1');
    expect(fpsFraction(7.5)).toBe('15/2');
    expect(fpsFraction(29.97)).toBe('2997/100');
  });
  it('quotes property values for gst_parse_launch', () => {
    expect(quote('/a b/c')).toBe('"/a b/c"');
    expect(quote('x"y\\z')).toBe('"x\\"y\\\\z"');
  });
});
