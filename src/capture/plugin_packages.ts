/**
 * Which package ships a GStreamer element, so that a "no element" error can say what to install.
 * Debian/Ubuntu package names; the NVIDIA elements come with JetPack's `nvidia-l4t-gstreamer`.
 * Elements not listed get a generic hint (`gst-inspect-1.0 <name>` / `apt-file search`).
 */
export const ELEMENT_PACKAGES: Readonly<Record<string, string>> = {
  // core (libgstreamer1.0-0 / gstreamer1.0-tools): always there when GStreamer is
  appsink: 'gstreamer1.0-plugins-base',
  appsrc: 'gstreamer1.0-plugins-base',
  filesrc: 'libgstreamer1.0-0',
  fdsrc: 'libgstreamer1.0-0',
  queue: 'libgstreamer1.0-0',
  identity: 'libgstreamer1.0-0',
  concat: 'libgstreamer1.0-0',
  fakesink: 'libgstreamer1.0-0',
  fakesrc: 'libgstreamer1.0-0',
  capsfilter: 'libgstreamer1.0-0',
  // base
  videotestsrc: 'gstreamer1.0-plugins-base',
  videoconvert: 'gstreamer1.0-plugins-base',
  videoscale: 'gstreamer1.0-plugins-base',
  videorate: 'gstreamer1.0-plugins-base',
  decodebin: 'gstreamer1.0-plugins-base',
  uridecodebin: 'gstreamer1.0-plugins-base',
  playbin: 'gstreamer1.0-plugins-base',
  compositor: 'gstreamer1.0-plugins-base',
  rawvideoparse: 'gstreamer1.0-plugins-base',
  theoradec: 'gstreamer1.0-plugins-base',
  oggdemux: 'gstreamer1.0-plugins-base',
  // good
  v4l2src: 'gstreamer1.0-plugins-good',
  jpegdec: 'gstreamer1.0-plugins-good',
  jpegenc: 'gstreamer1.0-plugins-good',
  pngdec: 'gstreamer1.0-plugins-good',
  avidemux: 'gstreamer1.0-plugins-good',
  avimux: 'gstreamer1.0-plugins-good',
  qtdemux: 'gstreamer1.0-plugins-good',
  matroskademux: 'gstreamer1.0-plugins-good',
  multifilesrc: 'gstreamer1.0-plugins-good',
  vp8dec: 'gstreamer1.0-plugins-good',
  vp9dec: 'gstreamer1.0-plugins-good',
  rtspsrc: 'gstreamer1.0-plugins-good',
  rtpjpegdepay: 'gstreamer1.0-plugins-good',
  rtph264depay: 'gstreamer1.0-plugins-good',
  udpsrc: 'gstreamer1.0-plugins-good',
  // bad
  jpegparse: 'gstreamer1.0-plugins-bad',
  h264parse: 'gstreamer1.0-plugins-bad',
  h265parse: 'gstreamer1.0-plugins-bad',
  tsdemux: 'gstreamer1.0-plugins-bad',
  dav1ddec: 'gstreamer1.0-plugins-bad',
  // ugly / libav
  x264enc: 'gstreamer1.0-plugins-ugly',
  avdec_h264: 'gstreamer1.0-libav',
  avdec_h265: 'gstreamer1.0-libav',
  avdec_mjpeg: 'gstreamer1.0-libav',
  avdec_mpeg4: 'gstreamer1.0-libav',
  // NVIDIA Jetson (JetPack)
  nvv4l2decoder: 'nvidia-l4t-gstreamer (JetPack)',
  nvv4l2camerasrc: 'nvidia-l4t-gstreamer (JetPack)',
  nvarguscamerasrc: 'nvidia-l4t-gstreamer (JetPack)',
  nvvidconv: 'nvidia-l4t-gstreamer (JetPack)',
  nvvideoconvert: 'deepstream (JetPack DeepStream SDK)',
  nvjpegdec: 'nvidia-l4t-gstreamer (JetPack)',
  nvjpegenc: 'nvidia-l4t-gstreamer (JetPack)',
};

/** The package that ships `element`, or undefined when we do not know it. */
export function packageForElement(element: string): string | undefined {
  return Object.prototype.hasOwnProperty.call(ELEMENT_PACKAGES, element) ? ELEMENT_PACKAGES[element] : undefined;
}

/** An install hint for a missing element, naming the package when known. */
export function installHint(element: string): string {
  const pkg = packageForElement(element);
  if (pkg === undefined) {
    return `install the GStreamer plug-in that provides "${element}" (find it with \`apt-file search\` or the element's documentation), then check with \`gst-inspect-1.0 ${element}\``;
  }
  if (pkg.includes('JetPack')) {
    return `"${element}" is NVIDIA's; it comes with ${pkg} on a Jetson and does not exist on other machines`;
  }
  return `"${element}" is in the Debian/Ubuntu package ${pkg}: \`sudo apt-get install ${pkg}\`, then check with \`gst-inspect-1.0 ${element}\``;
}

/**
 * decodebin reports a missing decoder/demuxer by the caps it could not handle, not by an element name.
 * The element we would expect to handle those caps on Debian, for the hint.
 */
const CAPS_ELEMENTS: ReadonlyArray<readonly [RegExp, string]> = [
  [/^video\/x-h264/, 'avdec_h264'],
  [/^video\/x-h265/, 'avdec_h265'],
  [/^video\/mpeg.*mpegversion=\(int\)4/, 'avdec_mpeg4'],
  [/^video\/x-vp8/, 'vp8dec'],
  [/^video\/x-vp9/, 'vp9dec'],
  [/^video\/x-av1/, 'dav1ddec'],
  [/^image\/jpeg/, 'jpegdec'],
  [/^image\/png/, 'pngdec'],
  [/^video\/x-msvideo/, 'avidemux'],
  [/^video\/quicktime/, 'qtdemux'],
  [/^video\/x-matroska/, 'matroskademux'],
  [/^video\/webm/, 'matroskademux'],
  [/^video\/mpegts/, 'tsdemux'],
  [/^video\/x-theora/, 'theoradec'],
  [/^application\/ogg/, 'oggdemux'],
];

/** The element expected to handle a caps string (e.g. from a `missing-plugin` message), if we know one. */
export function elementForCaps(caps: string): string | undefined {
  for (const [re, element] of CAPS_ELEMENTS) if (re.test(caps)) return element;
  return undefined;
}
