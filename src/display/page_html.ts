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
    <button id="session-bar" type="button" aria-haspopup="dialog" disabled><span id="session-text">No patient set</span><span id="session-edit">Set…</span></button>
    <div id="verdict" role="status" aria-live="polite" data-kind="waiting" data-label="" data-state="" data-stale="false">
      <div id="verdict-icon"></div>
      <div id="verdict-title">Waiting for the device…</div>
      <div id="verdict-probability" hidden data-side="">
        <div id="p-text"></div>
        <div id="scale" aria-hidden="true"><div id="scale-band"></div><div id="scale-threshold"></div><div id="scale-needle"></div><span id="scale-min">0</span><span id="scale-max">100 %</span></div>
        <div id="p-side"></div>
        <div id="p-variation"></div>
      </div>
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
<footer id="history" aria-label="Lesions examined for this patient, newest first">
  <div id="history-title">Examined</div>
  <ol id="history-list"></ol>
  <div id="history-empty">No lesion examined yet</div>
</footer>
<dialog id="session-dialog" aria-labelledby="session-dialog-title">
  <form id="session-form" method="dialog">
    <h2 id="session-dialog-title">Examination</h2>
    <label for="patient-ref">Patient reference</label>
    <input id="patient-ref" name="patientRef" type="text" autocomplete="off" spellcheck="false" maxlength="64" placeholder="e.g. MRN or study id">
    <div id="site-label">Body site</div>
    <div id="site-buttons" role="radiogroup" aria-labelledby="site-label"></div>
    <div id="session-error" role="alert" hidden></div>
    <div id="session-actions">
      <button id="session-clear" type="button">Clear</button>
      <button id="session-cancel" type="button">Cancel</button>
      <button id="session-apply" type="submit" value="apply">Apply</button>
    </div>
  </form>
</dialog>
</body>
</html>
`;
}

export const STYLE_CSS = `
:root { color-scheme: dark; --bg: #101214; --fg: #f2f2f2; --muted: #a8adb3; --neutral: #3a3d42;
  --benign: #0b4f8a; --malignant: #a63c00; --offline: #b00020; --warn: #8a6d00; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
html, body { margin: 0; height: 100%; background: var(--bg); color: var(--fg);
  font: 20px/1.3 "DejaVu Sans", "Liberation Sans", system-ui, sans-serif; overflow: hidden; }
body { display: flex; flex-direction: column; }
#banner { flex: none; padding: 14px 20px; font-size: 26px; font-weight: 700; text-align: center; letter-spacing: .02em; }
#banner[data-kind="offline"] { background: var(--offline); color: #fff; }
#banner[data-kind="broker"] { background: var(--offline); color: #fff; }
#banner[data-kind="degraded"], #banner[data-kind="config"] { background: var(--warn); color: #fff; font-size: 20px; }
main { flex: 1; min-height: 0; display: grid; grid-template-columns: minmax(0, 1fr) minmax(330px, 40%); grid-template-rows: minmax(0, 1fr); }
#view { position: relative; min-width: 0; min-height: 0; background: #000; }
#frame { position: absolute; inset: 0; width: 100%; height: 100%; display: block; }
#image-note { position: absolute; left: 0; right: 0; bottom: 10px; text-align: center; color: var(--muted); font-size: 18px; }
#panel { display: flex; flex-direction: column; gap: 10px; padding: 12px 14px; min-width: 0; min-height: 0; overflow: hidden; }
#verdict { container-type: inline-size; flex: 1 0 auto; display: flex; flex-direction: column; justify-content: center; align-items: center; text-align: center;
  gap: 4px; border-radius: 14px; padding: 10px 14px; background: var(--neutral); color: #e6e6e6; border: 4px solid transparent; }
#verdict-icon svg { width: 48px; height: 48px; display: block; }
#verdict-icon:empty { display: none; }
#verdict-title { font-size: 30px; font-weight: 600; line-height: 1.15; }
#verdict-probability { font-size: 40px; font-weight: 700; font-variant-numeric: tabular-nums; }
#verdict-detail { font-size: 15px; color: inherit; opacity: .9; }
#verdict-stale { font-size: 20px; font-weight: 700; background: #000; color: #fff; padding: 4px 10px; border-radius: 6px; }
/* Only a stable verdict is coloured and large. */
#verdict[data-kind="stable"] { color: #fff; }
#verdict[data-kind="stable"] #verdict-title { font-size: clamp(44px, 12cqi, 88px); font-weight: 800; letter-spacing: .03em; }
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
/* Diagnostics: compact, and the first to give way when the verdict needs the height. */
#stats { flex: 0 1 auto; min-height: 0; overflow: hidden; margin: 0; display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 2px 12px; font-size: 14px; }
#stats div { min-width: 0; }
#stats div:nth-child(4) { grid-column: span 2; }
#stats dt { color: var(--muted); font-size: 11px; text-transform: uppercase; letter-spacing: .05em; }
#stats dd { margin: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
#session-bar { flex: none; display: flex; justify-content: space-between; align-items: center; gap: 10px; min-height: 48px; padding: 8px 14px; border-radius: 10px;
  border: 2px solid #555; background: #1c1f22; color: var(--fg); font: inherit; font-size: 18px; text-align: left; }
#session-bar:disabled { opacity: .5; }
#session-bar[data-pending="true"] { border-color: var(--warn); border-style: dashed; }
#session-text { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
#session-edit { flex: none; font-weight: 700; color: #9cc9ff; }
/* p(malignant) on a 0–100 % scale: needle = the value, white bar = the operating threshold, shaded = ± margin. */
#verdict-probability { width: 100%; display: flex; flex-direction: column; align-items: center; gap: 6px; }
#p-text { font-size: 30px; font-weight: 700; font-variant-numeric: tabular-nums; white-space: nowrap; }
#scale { position: relative; width: 92%; height: 20px; margin: 8px 0 16px; border-radius: 4px; background: rgba(255,255,255,.22); }
#scale-band { position: absolute; top: 0; bottom: 0; background: rgba(255,255,255,.28); }
#scale-threshold { position: absolute; top: -7px; bottom: -7px; width: 4px; margin-left: -2px; background: #fff; box-shadow: 0 0 0 1px #000; }
#scale-needle { position: absolute; top: 50%; width: 18px; height: 18px; margin: -9px 0 0 -9px; border-radius: 50%; background: #ffd400; border: 2px solid #000; }
#scale-min, #scale-max { position: absolute; top: 24px; font-size: 13px; opacity: .85; }
#scale-min { left: 0; } #scale-max { right: 0; }
#p-side { font-size: 16px; font-weight: 700; }
#p-variation { font-size: 15px; opacity: .9; }
#verdict[data-kind="ended"] { color: #fff; border-style: dashed; border-color: rgba(255,255,255,.6); }
#verdict[data-kind="ended"] #verdict-title { font-size: clamp(28px, 9cqi, 56px); font-weight: 800; }
#verdict[data-kind="ended"][data-label="benign"] { background: var(--benign); }
#verdict[data-kind="ended"][data-label="malignant"] { background: var(--malignant); }
#verdict[data-kind="ended"][data-label=""] { background: #24272b; color: var(--muted); }
#history { flex: none; height: 112px; display: flex; align-items: stretch; gap: 10px; padding: 8px 12px; border-top: 1px solid #333; background: #16181a; }
#history-title { flex: none; writing-mode: vertical-rl; transform: rotate(180deg); text-align: center; color: var(--muted); font-size: 13px; text-transform: uppercase; letter-spacing: .08em; }
#history-list { flex: 1; min-width: 0; display: flex; gap: 10px; margin: 0; padding: 0; list-style: none; overflow-x: auto; }
#history-list li { flex: none; width: 260px; display: grid; grid-template-columns: 72px minmax(0, 1fr); gap: 1px 8px; align-items: center; padding: 6px; border-radius: 8px;
  background: #24272b; border-left: 8px solid #666; font-size: 15px; line-height: 1.2; }
#history-list li > div:not(.no-thumb) { min-width: 0; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
#history-list li[data-label="malignant"] { border-left-color: #ff7a33; }
#history-list li[data-label="benign"] { border-left-color: #4ea3ff; }
#history-list li img, #history-list li .no-thumb { grid-row: span 4; width: 72px; height: 72px; object-fit: cover; border-radius: 4px; background: #333; }
#history-list .h-verdict { font-weight: 700; }
#history-list .h-side, #history-list .h-time { color: var(--muted); font-size: 12px; }
#history-empty { align-self: center; color: var(--muted); font-size: 16px; }
#history-list:not(:empty) + #history-empty { display: none; }
dialog#session-dialog { width: min(720px, 96vw); border: 2px solid #555; border-radius: 14px; background: #1c1f22; color: var(--fg); padding: 18px 22px; }
dialog#session-dialog::backdrop { background: rgba(0,0,0,.7); }
#session-form h2 { margin: 0 0 10px; font-size: 24px; }
#session-form label, #site-label { display: block; margin: 10px 0 6px; color: var(--muted); font-size: 15px; text-transform: uppercase; letter-spacing: .05em; }
#patient-ref { width: 100%; min-height: 52px; padding: 8px 12px; font: inherit; font-size: 24px; border-radius: 8px; border: 2px solid #666; background: #0c0d0e; color: #fff; }
#site-buttons { display: grid; grid-template-columns: repeat(5, 1fr); gap: 8px; }
#site-buttons button, #session-actions button { min-height: 52px; font: inherit; font-size: 19px; border-radius: 8px; border: 2px solid #555; background: #2a2d31; color: #fff; }
#site-buttons button[aria-checked="true"] { background: #0b4f8a; border-color: #9cc9ff; font-weight: 700; }
#session-error { margin-top: 8px; color: #ffb4b4; font-weight: 700; }
#session-actions { display: flex; justify-content: flex-end; gap: 10px; margin-top: 14px; }
#session-actions button { min-width: 120px; }
#session-apply { background: #0b4f8a !important; font-weight: 700; }
@media (max-width: 700px) { main { grid-template-columns: 1fr; grid-template-rows: 55% 45%; } }
`;
