import { describe, expect, it } from 'vitest';
import { checkElements, elementNamesIn, elementsFor } from '../../src/capture/check_elements.js';
import { parseSource } from '../../src/capture/source_spec.js';

describe('checkElements (no gst-inspect-1.0)', () => {
  it('finds installed elements and names the package of missing ones', () => {
    const [testsrc, convert, missing] = checkElements(['videotestsrc', 'videoconvert', 'nonexistentelement123']);
    expect(testsrc).toEqual({ element: 'videotestsrc', present: true, package: 'gstreamer1.0-plugins-base' });
    expect(convert!.present).toBe(true);
    expect(missing!.present).toBe(false);
    expect(missing!.hint).toContain('nonexistentelement123');
  });

  it('gives the package in the hint of a known but missing element', () => {
    // nvvidconv exists only on a Jetson; elsewhere it must come back missing, with JetPack named.
    const [nv] = checkElements(['nvvidconv']);
    if (!nv!.present) expect(nv!.hint).toContain('nvidia-l4t-gstreamer');
    expect(nv!.package).toContain('nvidia-l4t-gstreamer');
  });

  it('refuses things that are not element names', () => {
    expect(() => checkElements(['videotestsrc ! fakesink'])).toThrow(/not an element name/);
  });

  it('lists what each kind of source needs', () => {
    expect(elementsFor(parseSource('v4l2:0'))).toEqual(expect.arrayContaining(['v4l2src', 'jpegdec', 'videoconvert', 'appsink']));
    expect(elementsFor(parseSource('gst:nvv4l2camerasrc ! nvvidconv ! video/x-raw,format=BGRx'))).toEqual(
      expect.arrayContaining(['nvv4l2camerasrc', 'nvvidconv', 'videoconvert']),
    );
    expect(elementNamesIn('a ! b.src ! video/x-raw ! c name=x')).toEqual(['a', 'c']);
  });
});

describe('generated launch descriptions', () => {
  it('all parse in the real GStreamer (parsing opens no device)', async () => {
    const { gstreamer } = await import('../../src/capture/gst_binding.js');
    const { launchPlans } = await import('../../src/capture/source_spec.js');
    const sources = ['v4l2:/dev/video0', 'file:/tmp/some "odd" name.avi', 'test:smpte', 'gst:videotestsrc ! video/x-raw,format=I420'];
    const requests = [{}, { width: 640, height: 480 }, { width: 640, height: 480, fps: 29.97 }, { realtime: false }];
    let parsed = 0;
    for (const s of sources) {
      for (const req of requests) {
        for (const plan of launchPlans(parseSource(s), req)) {
          expect(() => new (gstreamer().Pipeline)(plan.description), plan.description).not.toThrow();
          parsed++;
        }
      }
    }
    expect(parsed).toBe(4 * 3 + 3 * 4);
  });
});
