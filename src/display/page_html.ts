/**
 * The display page's HTML and CSS, kept in a module so `tsc` carries them into dist/ with the rest (no copy step).
 * Layout: image + overlay on the left, verdict panel on the right; a full-width banner above both when the device is
 * offline or the display is not connected. Sized for a 1024×600 touchscreen, fluid up to a desktop; large type,
 * no interaction needed.
 */

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export function indexHtml(title = 'dermstream'): string {
  const t = escapeHtml(title);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${t} — bedside display</title>
<link rel="stylesheet" href="style.css">
<script type="module" src="page/app.js"></script>
</head>
<body data-broker="connecting" data-device="unknown">
<div id="banner" role="alert" hidden></div>
<main>
  <section id="view" aria-label="Dermatoscope image with the lesion outline">
    <canvas id="frame"></canvas>
    <div id="image-note">No image yet</div>
  </section>
  <section id="panel">
    <div id="verdict" role="status" aria-live="polite" data-kind="waiting" data-label="" data-state="" data-stale="false">
      <div id="verdict-icon"></div>
      <div id="verdict-title">Waiting for the device…</div>
      <div id="verdict-probability" hidden></div>
      <div id="verdict-detail">No result received yet</div>
      <div id="verdict-stale" hidden></div>
    </div>
    <dl id="stats">
      <div><dt>Rate</dt><dd id="stat-fps">—</dd></div>
      <div><dt>Latency</dt><dd id="stat-latency">—</dd></div>
      <div><dt>Device</dt><dd id="stat-device">—</dd></div>
      <div><dt>Model</dt><dd id="stat-model">—</dd></div>
      <div><dt>Link</dt><dd id="stat-link">connecting…</dd></div>
    </dl>
  </section>
</main>
</body>
</html>
`;
}

export const STYLE_CSS = `
:root { color-scheme: dark; --bg: #101214; --fg: #f2f2f2; --muted: #a8adb3; --neutral: #3a3d42;
  --benign: #0b4f8a; --malignant: #a63c00; --offline: #b00020; --warn: #8a6d00; }
* { box-sizing: border-box; }
html, body { margin: 0; height: 100%; background: var(--bg); color: var(--fg);
  font: 20px/1.3 "DejaVu Sans", "Liberation Sans", system-ui, sans-serif; overflow: hidden; }
body { display: flex; flex-direction: column; }
#banner { flex: none; padding: 14px 20px; font-size: 26px; font-weight: 700; text-align: center; letter-spacing: .02em; }
#banner[data-kind="offline"] { background: var(--offline); color: #fff; }
#banner[data-kind="broker"] { background: var(--offline); color: #fff; }
#banner[data-kind="degraded"], #banner[data-kind="config"] { background: var(--warn); color: #fff; font-size: 20px; }
main { flex: 1; min-height: 0; display: grid; grid-template-columns: minmax(0, 1fr) minmax(330px, 40%); }
#view { position: relative; min-width: 0; min-height: 0; background: #000; }
#frame { position: absolute; inset: 0; width: 100%; height: 100%; display: block; }
#image-note { position: absolute; left: 0; right: 0; bottom: 10px; text-align: center; color: var(--muted); font-size: 18px; }
#panel { display: flex; flex-direction: column; gap: 14px; padding: 16px; min-width: 0; }
#verdict { container-type: inline-size; flex: 1; display: flex; flex-direction: column; justify-content: center; align-items: center; text-align: center;
  gap: 8px; border-radius: 14px; padding: 18px; background: var(--neutral); color: #e6e6e6; border: 4px solid transparent; }
#verdict-icon svg { width: 72px; height: 72px; display: block; }
#verdict-icon:empty { display: none; }
#verdict-title { font-size: 34px; font-weight: 600; }
#verdict-probability { font-size: 40px; font-weight: 700; font-variant-numeric: tabular-nums; }
#verdict-detail { font-size: 18px; color: inherit; opacity: .9; }
#verdict-stale { font-size: 20px; font-weight: 700; background: #000; color: #fff; padding: 4px 10px; border-radius: 6px; }
/* Only a stable verdict is coloured and large. */
#verdict[data-kind="stable"] { color: #fff; }
#verdict[data-kind="stable"] #verdict-title { font-size: clamp(40px, 14cqi, 96px); font-weight: 800; letter-spacing: .03em; }
#verdict[data-kind="stable"][data-label="benign"] { background: var(--benign); }
#verdict[data-kind="stable"][data-label="malignant"] { background: var(--malignant); }
#verdict[data-kind="none"], #verdict[data-kind="waiting"] { background: #24272b; color: var(--muted); }
#verdict[data-kind="withdrawn"] { background: #24272b; color: var(--muted); border-color: var(--offline); }
/* Not current: no colour, dimmed, and it says so. */
#verdict[data-stale="true"] { background: #2a2c2f !important; color: #9aa0a6 !important; border-color: #666; border-style: dashed; }
#verdict[data-stale="true"] #verdict-title { font-size: 28px !important; font-weight: 600 !important; }
#verdict[data-stale="true"] #verdict-probability { font-size: 24px; }
#verdict[data-stale="true"] #verdict-icon svg { width: 40px; height: 40px; }
#verdict-stale { order: -1; }
body.greyed #frame { filter: grayscale(1) brightness(.55); }
#stats { margin: 0; display: grid; grid-template-columns: 1fr 1fr; gap: 6px 14px; font-size: 16px; }
#stats div { min-width: 0; }
#stats div:nth-child(4) { grid-column: span 2; }
#stats dt { color: var(--muted); font-size: 13px; text-transform: uppercase; letter-spacing: .05em; }
#stats dd { margin: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
@media (max-width: 700px) { main { grid-template-columns: 1fr; grid-template-rows: 55% 45%; } }
`;
