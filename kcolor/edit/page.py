"""The page of ``kcolor edit``: HTML, CSS and plain JavaScript, served by
``kcolor.edit.server`` (no build step, nothing from the network; the
Content-Security-Policy allows only the server's own scripts and styles).

Kept here as Python strings so that the package needs no data files.
"""

COMMON_COLOURS = [  # (name, sRGB): the page's "common" swatches, keys 1-9 for the first nine
    ("Sky", "#86b0dc"), ("Deep sky", "#3f6fb5"), ("Sea", "#2f6f86"), ("Foliage", "#4b7a34"),
    ("Grass", "#7fa447"), ("Light skin", "#eac0a4"), ("Medium skin", "#c98e6b"),
    ("Dark skin", "#8a5a40"), ("Brick red", "#9a4030"), ("Pine", "#2f4f33"),
    ("Lips", "#b5555a"), ("Wood", "#7a5232"), ("Sand", "#d6c092"), ("Gold", "#d4a93a"),
    ("Red", "#c0392b"), ("Neutral gray", "#808080"),
]

KEYS = [  # (keys, what): listed on the page
    ("Click", "add a point with the current colour"),
    ("Drag", "move a point"),
    ("Right-click", "delete a point"),
    ("Del", "delete the selected point (or Backspace)"),
    ("Ctrl+Z", "undo"),
    ("Ctrl+Y", "redo (or Ctrl+Shift+Z)"),
    ("1 \u2013 9", "common colours 1 to 9"),
    ("[ / ]", "smaller / larger point"),
    ("Esc", "deselect"),
    ("V", "side by side / single view"),
    ("Space (hold)", "single view: show the gray photo"),
    ("H", "hide / show the points"),
    ("Ctrl+S", "save"),
    ("N / \u2192", "next photo"),
    ("P / \u2190", "previous photo"),
]

_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>kcolor edit</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/edit.css">
</head>
<body>
<header>
  <span class="brand">kcolor edit</span>
  <span id="nav" class="nav" hidden>
    <button id="prev" type="button" title="Previous photo (P)">&#8249;</button>
    <span id="counter" class="counter">1 / 1</span>
    <button id="next" type="button" title="Next photo (N)">&#8250;</button>
  </span>
  <span id="name" class="name"></span>
  <span id="unsaved" class="unsaved" hidden>&#9679; unsaved</span>
  <span class="spacer"></span>
  <span id="status" class="status">Loading&hellip;</span>
  <button id="undo" type="button" title="Undo (Ctrl+Z)" disabled>Undo</button>
  <button id="redo" type="button" title="Redo (Ctrl+Y)" disabled>Redo</button>
  <button id="view" type="button" title="Side by side / single view (V)">Single view</button>
  <button id="save" type="button" class="primary" title="Save (Ctrl+S)">Save</button>
</header>
<div id="layout">
<main id="panes" class="side">
  <figure id="pane-gray" class="pane"><div class="frame" id="frame-gray">
    <img id="gray" alt="gray photo" draggable="false">
    <svg id="marks-gray" class="marks" xmlns="http://www.w3.org/2000/svg"
         preserveAspectRatio="none"></svg></div>
    <figcaption>Gray &middot; your points</figcaption></figure>
  <figure id="pane-colour" class="pane"><div class="frame" id="frame-colour">
    <img id="colour" alt="colour result" draggable="false">
    <svg id="marks-colour" class="marks" xmlns="http://www.w3.org/2000/svg"
         preserveAspectRatio="none"></svg></div>
    <figcaption id="colour-caption">Colour</figcaption></figure>
</main>
<aside>
  <section>
    <h2>Colour</h2>
    <div class="pick"><input id="color" type="color" value="#86b0dc" title="Pick a colour">
      <div><div id="color-hex" class="hex">#86b0dc</div>
      <div class="muted" id="color-for">for new points</div></div></div>
    <h3>Model's colour here</h3><div id="sw-model" class="swatches"><span class="muted">click the photo</span></div>
    <h3>Used on this photo</h3><div id="sw-used" class="swatches"><span class="muted">none yet</span></div>
    <h3>Common</h3><div id="sw-common" class="swatches"></div>
  </section>
  <section>
    <h2>Point</h2>
    <div class="row"><label for="size">Size</label><input id="size" type="range" min="0" max="64" value="0">
      <span id="size-label" class="value">auto</span></div>
    <p id="point-info" class="muted">Click the photo to add a point.</p>
    <button id="delete" type="button" disabled>Delete point</button>
  </section>
  <section>
    <h2>Saturation</h2>
    <div class="row"><input id="saturation" type="range" min="0" max="2" step="0.05" value="1">
      <span id="sat-label" class="value">1.00</span></div>
  </section>
  <section>
    <h2>Keys</h2>
    <dl id="keys" class="keys"></dl>
  </section>
  <section id="saved-box" hidden>
    <h2>Saved</h2>
    <p id="saved-files" class="muted"></p>
    <p class="muted">The same with <code>kcolor colorize</code>:</p>
    <code id="command" class="command"></code>
  </section>
</aside>
</div>
<script src="/edit.js"></script>
</body></html>
"""

CSS = """
* { box-sizing: border-box; }
html, body { height: 100%; }
body { margin: 0; display: flex; flex-direction: column; background: #2a2a2a; color: #ddd;
       font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header { display: flex; align-items: center; gap: .6em; padding: .45em .9em; background: #1c1c1c;
         border-bottom: 1px solid #000; flex-wrap: wrap; }
.brand { font-weight: 700; letter-spacing: .02em; color: #fff; margin-right: .4em; }
.nav { display: inline-flex; align-items: center; gap: .3em; }
.counter { font-variant-numeric: tabular-nums; color: #aaa; min-width: 4em; text-align: center; }
.name { font-weight: 600; color: #eee; max-width: 28em; overflow: hidden; text-overflow: ellipsis;
        white-space: nowrap; }
.unsaved { color: #f0b400; font-size: .9em; }
.spacer { flex: 1; }
.status { color: #aaa; font-size: .9em; font-variant-numeric: tabular-nums; }
.status.error { color: #ff7b72; }
button { font: inherit; padding: .35em .9em; border: 1px solid #555; border-radius: .3em;
         background: #333; color: #eee; cursor: pointer; }
button:hover:not(:disabled) { background: #444; }
button:disabled { opacity: .4; cursor: default; }
button.primary { background: #2f6fd0; border-color: #2f6fd0; color: #fff; font-weight: 600; }
button.primary:hover:not(:disabled) { background: #3b7fe6; }
#layout { flex: 1; display: flex; min-height: 0; }
main { flex: 1; display: flex; gap: 14px; padding: 14px; min-width: 0; min-height: 0;
       align-items: center; justify-content: center; }
.pane { margin: 0; display: flex; flex-direction: column; align-items: center; gap: .4em;
        min-width: 0; }
main.single #pane-gray, main.single.gray #pane-colour { display: none; }
main.single.gray #pane-gray { display: flex; }
.frame { position: relative; background: #111; box-shadow: 0 1px 6px rgba(0,0,0,.5); }
.frame img { display: block; width: 100%; height: 100%; user-select: none; }
.marks { position: absolute; left: 0; top: 0; width: 100%; height: 100%; cursor: crosshair;
         touch-action: none; }
.marks .pt { cursor: grab; }
.marks.hidden .pt { display: none; }
figcaption { color: #999; font-size: .85em; }
aside { width: 290px; flex: none; overflow-y: auto; background: #202020; border-left: 1px solid #000;
        padding: .4em 1em 1.2em; }
aside section { border-bottom: 1px solid #333; padding: .6em 0 .8em; }
aside section:last-child { border-bottom: 0; }
h2 { font-size: .8em; text-transform: uppercase; letter-spacing: .08em; color: #999; margin: .2em 0 .6em; }
h3 { font-size: .8em; font-weight: 600; color: #aaa; margin: .8em 0 .3em; }
.pick { display: flex; align-items: center; gap: .8em; }
input[type=color] { width: 52px; height: 40px; padding: 0; border: 1px solid #555; border-radius: .3em;
                    background: #333; cursor: pointer; }
.hex { font: 600 1em ui-monospace, monospace; color: #eee; }
.muted { color: #888; font-size: .9em; }
.swatches { display: flex; flex-wrap: wrap; gap: 5px; min-height: 24px; align-items: center; }
.swatch { width: 24px; height: 24px; border-radius: 4px; border: 1px solid rgba(255,255,255,.25);
          padding: 0; cursor: pointer; position: relative; }
.swatch:hover { outline: 2px solid #fff; outline-offset: 1px; }
.swatch.wide { width: auto; padding: 0 .6em; font: .85em ui-monospace, monospace; color: #fff;
               text-shadow: 0 0 2px #000; }
.swatch .n { position: absolute; right: 1px; bottom: -1px; font-size: 9px; color: #fff;
             text-shadow: 0 0 2px #000; }
.row { display: flex; align-items: center; gap: .6em; }
.row input[type=range] { flex: 1; accent-color: #2f6fd0; }
.value { font-variant-numeric: tabular-nums; min-width: 3.6em; text-align: right; color: #ccc;
         white-space: nowrap; }
.keys { display: grid; grid-template-columns: auto 1fr; gap: .15em .7em; margin: 0; font-size: .88em; }
.keys dt { white-space: nowrap; }
.keys dd { margin: 0; color: #aaa; }
kbd { font: .85em ui-monospace, monospace; border: 1px solid #555; border-bottom-width: 2px;
      border-radius: .3em; padding: 0 .35em; background: #2c2c2c; color: #ddd; }
code.command { display: block; font: .8em/1.4 ui-monospace, monospace; background: #151515;
               padding: .5em .6em; border-radius: .3em; word-break: break-all; color: #cfe3ff;
               user-select: all; }
[hidden] { display: none !important; }
"""

JS = r"""
"use strict";
const COMMON = __COMMON__;
const KEYS = __KEYS__;
// Previews and the gray image come at the size the frame shows them (device
// pixels, in steps of 128), not the photo's: the model works at its own size.
const $ = (id) => document.getElementById(id);
const SVGNS = "http://www.w3.org/2000/svg";

const S = {
  photos: [], index: 0, meta: null, points: [], selected: -1, undo: [], redo: [],
  saved: true, edits: {}, saturation: 1, modelSaturation: 1, size: 0,
  seq: 0, shown: 0, inflight: false, pending: false, lastMs: null, serverMs: null,
  view: "side", showGray: false, hideMarks: false, drag: null, colourEdit: null,
  sizeEdit: null, lastSave: null, modelColour: null, errors: 0, ready: false, side: 0,
};
window.editState = () => ({
  index: S.index, points: cleanPoints(), selected: S.selected, requested: S.seq,
  shown: S.shown, busy: S.inflight || S.pending, saved: S.saved, lastSave: S.lastSave,
  lastMs: S.lastMs, serverMs: S.serverMs, saturation: S.saturation, errors: S.errors,
  width: S.meta ? S.meta.width : 0, height: S.meta ? S.meta.height : 0,
});

// --- server -------------------------------------------------------------
async function api(path, body) {
  const opts = body === undefined ? {} : {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)};
  const r = await fetch(path, Object.assign({credentials: "same-origin"}, opts));
  if (!r.ok) {
    const text = (await r.text()).trim();
    throw new Error(text || (r.status + " " + r.statusText));
  }
  return r;
}

function setStatus(text, error) {
  $("status").textContent = text;
  $("status").classList.toggle("error", !!error);
  if (error) S.errors++;
}

// --- points -------------------------------------------------------------
function cleanPoints() {  // the hints file's point objects
  return S.points.map((p) => {
    const q = {x: p.x, y: p.y};
    if (p.color) q.color = p.color; else q.ab = p.ab;
    if (p.size) q.size = p.size;
    return q;
  });
}
function labHex(L, a, b) {  // sRGB of CIE Lab (D65), clipped: how an "ab" point is drawn
  const f = (t) => (t > 6 / 29 ? t * t * t : 3 * (6 / 29) ** 2 * (t - 4 / 29));
  const fy = (L + 16) / 116;
  const X = 0.95047 * f(fy + a / 500), Y = f(fy), Z = 1.08883 * f(fy - b / 200);
  const lin = [3.2404542 * X - 1.5371385 * Y - 0.4985314 * Z,
               -0.9692660 * X + 1.8760108 * Y + 0.0415560 * Z,
               0.0556434 * X - 0.2040259 * Y + 1.0572252 * Z];
  return "#" + lin.map((c) => {
    c = Math.min(1, Math.max(0, c));
    c = c <= 0.0031308 ? 12.92 * c : 1.055 * c ** (1 / 2.4) - 0.055;
    return Math.round(c * 255).toString(16).padStart(2, "0");
  }).join("");
}
function hexOf(p) { return p.color || labHex(60, p.ab[0], p.ab[1]); }
function snapshot() { return JSON.stringify({points: S.points, selected: S.selected}); }
function restore(snap) {
  const o = JSON.parse(snap);
  S.points = o.points; S.selected = Math.min(o.selected, S.points.length - 1);
}
function commit(before) {
  if (before === snapshot()) return;
  S.undo.push(before);
  if (S.undo.length > 300) S.undo.shift();
  S.redo = [];
  S.saved = false;
  changed();
}
function undo() {
  if (!S.undo.length) return;
  S.redo.push(snapshot()); restore(S.undo.pop()); S.saved = false; changed();
}
function redo() {
  if (!S.redo.length) return;
  S.undo.push(snapshot()); restore(S.redo.pop()); S.saved = false; changed();
}
function changed() { render(); preview(); }

function addPoint(x, y) {
  const before = snapshot();
  S.modelColour = sampleAt(x, y);
  const p = {x: x, y: y, color: $("color").value};
  if (S.size) p.size = S.size;
  if (S.modelColour) p.model = S.modelColour;
  S.points.push(p);
  S.selected = S.points.length - 1;
  return before;
}
function deletePoint(i) {
  if (i < 0 || i >= S.points.length) return;
  const before = snapshot();
  S.points.splice(i, 1);
  S.selected = -1;
  commit(before);
}
function select(i) {
  S.selected = i;
  if (i >= 0) {
    const p = S.points[i];
    $("color").value = hexOf(p);
    S.size = p.size || 0;
    S.modelColour = p.model || null;
  }
  render();
}

// --- colour ---------------------------------------------------------------
const sampler = document.createElement("canvas");
let samplerReady = false;
function sampleAt(x, y) {
  if (!samplerReady || !S.meta) return null;
  const cx = Math.min(sampler.width - 1, Math.floor((x + 0.5) * sampler.width / S.meta.width));
  const cy = Math.min(sampler.height - 1, Math.floor((y + 0.5) * sampler.height / S.meta.height));
  const d = sampler.getContext("2d", {willReadFrequently: true}).getImageData(cx, cy, 1, 1).data;
  return "#" + [d[0], d[1], d[2]].map((v) => v.toString(16).padStart(2, "0")).join("");
}
function setColour(hex) {
  $("color").value = hex;
  if (S.selected >= 0) {
    const before = snapshot();
    S.points[S.selected].color = hex;
    delete S.points[S.selected].ab;
    commit(before);
  } else {
    render();
  }
}
function swatch(hex, title, n) {
  const b = document.createElement("button");
  b.type = "button"; b.className = "swatch"; b.title = title + " " + hex;
  b.style.background = hex;
  b.dataset.color = hex;
  if (n) { const s = document.createElement("span"); s.className = "n"; s.textContent = n; b.appendChild(s); }
  b.addEventListener("click", () => setColour(hex));
  return b;
}
function renderSwatches() {
  const model = $("sw-model");
  model.textContent = "";
  if (S.modelColour) {
    const b = swatch(S.modelColour, "the model's colour at this point", 0);
    b.classList.add("wide"); b.textContent = S.modelColour; model.appendChild(b);
  } else {
    const m = document.createElement("span"); m.className = "muted";
    m.textContent = "click the photo"; model.appendChild(m);
  }
  const used = $("sw-used");
  used.textContent = "";
  const seen = [];
  for (const p of S.points) if (!seen.includes(hexOf(p))) seen.push(hexOf(p));
  for (const c of seen.slice(-14)) used.appendChild(swatch(c, "used on this photo", 0));
  if (!seen.length) {
    const m = document.createElement("span"); m.className = "muted"; m.textContent = "none yet";
    used.appendChild(m);
  }
}

// --- drawing ------------------------------------------------------------
function layout() {
  if (!S.meta) return;
  const main = $("panes");
  const n = S.view === "side" ? 2 : 1;
  const cs = getComputedStyle(main);
  const padX = parseFloat(cs.paddingLeft) + parseFloat(cs.paddingRight);
  const padY = parseFloat(cs.paddingTop) + parseFloat(cs.paddingBottom);
  const w = (main.clientWidth - padX - 14 * (n - 1)) / n;
  const h = main.clientHeight - padY - 26;
  const k = Math.max(0.01, Math.min(w / S.meta.width, h / S.meta.height));
  for (const f of [$("frame-gray"), $("frame-colour")]) {
    f.style.width = Math.floor(S.meta.width * k) + "px";
    f.style.height = Math.floor(S.meta.height * k) + "px";
  }
  render();
  const px = Math.max(S.meta.width, S.meta.height) * k * (window.devicePixelRatio || 1);
  const side = Math.min(2048, Math.max(256, Math.ceil(px / 128) * 128));
  if (side <= S.side) return false;
  S.side = side;  // larger than before: a sharper gray image and preview
  $("gray").src = "/api/gray/" + S.index + "?max_side=" + side;
  return true;
}
function relayout() { if (layout()) preview(); }
function markerRadius(p, perPx) {
  const auto = S.meta ? (S.meta.default_size[0] + S.meta.default_size[1]) / 2 : 4;
  return Math.max((p.size || auto) / 2, 7 * perPx);
}
function renderMarks(svg, hollow) {
  const W = S.meta.width, H = S.meta.height;
  svg.setAttribute("viewBox", "0 0 " + W + " " + H);
  const shown = svg.getBoundingClientRect().width || 1;
  const perPx = W / shown;  // photo pixels per screen pixel
  svg.textContent = "";
  svg.classList.toggle("hidden", S.hideMarks);
  S.points.forEach((p, i) => {
    const g = document.createElementNS(SVGNS, "g");
    g.setAttribute("class", "pt"); g.dataset.i = i;
    const cx = p.x + 0.5, cy = p.y + 0.5, r = markerRadius(p, perPx);
    if (i === S.selected) {
      const ring = document.createElementNS(SVGNS, "circle");
      ring.setAttribute("cx", cx); ring.setAttribute("cy", cy); ring.setAttribute("r", r + 4 * perPx);
      ring.setAttribute("fill", "none"); ring.setAttribute("stroke", "#ffd400");
      ring.setAttribute("stroke-width", 2.5 * perPx);
      ring.setAttribute("stroke-dasharray", (4 * perPx) + " " + (3 * perPx));
      g.appendChild(ring);
    }
    const outer = document.createElementNS(SVGNS, "circle");
    outer.setAttribute("cx", cx); outer.setAttribute("cy", cy); outer.setAttribute("r", r + (hollow ? 2 : 1) * perPx);
    outer.setAttribute("fill", "none"); outer.setAttribute("stroke", "rgba(0,0,0,.7)");
    outer.setAttribute("stroke-width", 1.5 * perPx);
    const dot = document.createElementNS(SVGNS, "circle");
    dot.setAttribute("cx", cx); dot.setAttribute("cy", cy); dot.setAttribute("r", r);
    // On the colour pane a ring: the result shows through it.
    dot.setAttribute("fill", hollow ? "rgba(0,0,0,0)" : hexOf(p));
    dot.setAttribute("stroke", hollow ? hexOf(p) : "#fff");
    dot.setAttribute("stroke-width", (hollow ? 3 : 2) * perPx);
    g.appendChild(outer); g.appendChild(dot);
    svg.appendChild(g);
  });
}
function render() {
  if (!S.meta) return;
  renderMarks($("marks-gray"));
  renderMarks($("marks-colour"), true);
  const sel = S.selected >= 0 ? S.points[S.selected] : null;
  $("color-hex").textContent = $("color").value;
  $("color-for").textContent = sel ? "for point " + (S.selected + 1) : "for new points";
  $("size").value = S.size;
  const auto = Math.round((S.meta.default_size[0] + S.meta.default_size[1]) / 2);
  $("size-label").textContent = S.size ? S.size + " px" : "auto \u00b7 " + auto + " px";
  $("point-info").textContent = sel
    ? "Point " + (S.selected + 1) + " of " + S.points.length + " at (" + sel.x + ", " + sel.y + ")"
    : S.points.length ? S.points.length + " point" + (S.points.length > 1 ? "s" : "") +
      ". Click one to select it." : "Click the photo to add a point.";
  $("delete").disabled = !sel;
  $("undo").disabled = !S.undo.length;
  $("redo").disabled = !S.redo.length;
  $("unsaved").hidden = S.saved;
  renderSwatches();
}

// --- preview ------------------------------------------------------------
async function preview() {
  if (!S.meta) return;
  if (S.inflight) { S.pending = true; return; }
  S.inflight = true; S.pending = false;
  const seq = ++S.seq, index = S.index, t0 = performance.now();
  try {
    const r = await api("/api/preview", {index: index, points: cleanPoints(),
                                         saturation: S.saturation, max_side: S.side});
    const ms = parseFloat(r.headers.get("X-Kcolor-Ms"));
    const blob = await r.blob();
    if (index === S.index) {
      await showColour(URL.createObjectURL(blob));
      S.shown = seq; S.lastMs = performance.now() - t0; S.serverMs = ms; S.ready = true;
      setStatus("Updated in " + Math.round(S.lastMs) + " ms");
    }
  } catch (e) {
    setStatus(e.message, true);
  } finally {
    S.inflight = false;
    if (S.pending) preview();
  }
}
function showColour(url) {
  const img = $("colour");
  return new Promise((resolve) => {
    img.onload = () => {
      sampler.width = img.naturalWidth; sampler.height = img.naturalHeight;
      sampler.getContext("2d", {willReadFrequently: true}).drawImage(img, 0, 0);
      samplerReady = true;
      if (img.dataset.old) URL.revokeObjectURL(img.dataset.old);
      img.dataset.old = url;
      resolve();
    };
    img.onerror = () => resolve();
    img.src = url;
  });
}

// --- photos -------------------------------------------------------------
function stash() {
  if (!S.meta) return;
  S.edits[S.index] = {points: S.points, undo: S.undo, redo: S.redo, saved: S.saved};
}
async function show(index) {
  if (index < 0 || index >= S.photos.length) return;
  stash();
  if (S.ready) setStatus("Opening\u2026");
  let meta;
  try {
    meta = await (await api("/api/photo/" + index)).json();
  } catch (e) { setStatus(e.message, true); return; }
  S.index = index; S.meta = meta; S.selected = -1; S.modelColour = null; samplerReady = false;
  const kept = S.edits[index];
  if (kept) {
    S.points = kept.points; S.undo = kept.undo; S.redo = kept.redo; S.saved = kept.saved;
  } else {
    S.points = meta.points.map((p) => Object.assign({}, p));
    S.undo = []; S.redo = []; S.saved = true;
  }
  $("size").max = Math.max(8, Math.round(Math.max(meta.width, meta.height) / 8));
  $("name").textContent = meta.name;
  $("name").title = meta.name + " \u2192 " + meta.output;
  $("counter").textContent = (index + 1) + " / " + S.photos.length;
  $("saved-box").hidden = true;
  S.side = 0;
  layout();
  if (meta.hints_error) setStatus(meta.hints_error, true);
  await preview();
  if (!meta.hints_error && meta.points.length && !kept)
    setStatus("Loaded " + meta.points.length + " points from " + meta.hints_file);
}
function step(d) {
  const i = S.index + d;
  if (i >= 0 && i < S.photos.length) show(i);
}

async function save() {
  if (!S.meta) return;
  $("save").disabled = true;
  setStatus("Saving at full resolution\u2026");
  const snap = snapshot();
  try {
    const r = await (await api("/api/save", {index: S.index, points: cleanPoints(),
                                             saturation: S.saturation})).json();
    if (snap === snapshot()) S.saved = true;
    S.lastSave = r;
    $("saved-files").textContent = r.output + " and " + r.hints_file;
    $("command").textContent = r.command;
    $("saved-box").hidden = false;
    setStatus("Saved " + r.output + " (" + r.seconds + " s)");
  } catch (e) {
    setStatus("Not saved: " + e.message, true);
  } finally {
    $("save").disabled = false;
    render();
  }
}

// --- input --------------------------------------------------------------
function photoXY(svg, e) {
  const r = svg.getBoundingClientRect();
  const x = Math.floor((e.clientX - r.left) / r.width * S.meta.width);
  const y = Math.floor((e.clientY - r.top) / r.height * S.meta.height);
  return [Math.max(0, Math.min(S.meta.width - 1, x)), Math.max(0, Math.min(S.meta.height - 1, y))];
}
function onDown(e) {
  if (!S.meta || e.button !== 0) return;
  const svg = e.currentTarget;
  const g = e.target.closest(".pt");
  e.preventDefault();
  let before;
  if (g && !S.hideMarks) {
    before = snapshot();
    select(parseInt(g.dataset.i, 10));
  } else {
    const [x, y] = photoXY(svg, e);
    before = addPoint(x, y);
    render();
    preview();
  }
  svg.setPointerCapture(e.pointerId);
  S.drag = {svg: svg, before: before, moved: false, added: !g};
}
function onMove(e) {
  if (!S.drag || S.selected < 0) return;
  const [x, y] = photoXY(S.drag.svg, e);
  const p = S.points[S.selected];
  if (p.x === x && p.y === y) return;
  p.x = x; p.y = y; S.drag.moved = true;
  render();
  preview();
}
function onUp() {
  if (!S.drag) return;
  const d = S.drag;
  S.drag = null;
  if (d.moved && S.selected >= 0) delete S.points[S.selected].model;
  commit(d.before);
}
function onContext(e) {
  e.preventDefault();
  const g = e.target.closest(".pt");
  if (g) deletePoint(parseInt(g.dataset.i, 10));
}
for (const id of ["marks-gray", "marks-colour"]) {
  const svg = $(id);
  svg.addEventListener("pointerdown", onDown);
  svg.addEventListener("pointermove", onMove);
  svg.addEventListener("pointerup", onUp);
  svg.addEventListener("pointercancel", onUp);
  svg.addEventListener("contextmenu", onContext);
}

$("color").addEventListener("input", () => {
  if (S.selected >= 0) {
    if (S.colourEdit === null) S.colourEdit = snapshot();
    S.points[S.selected].color = $("color").value;
    delete S.points[S.selected].ab;
    render(); preview();
  } else {
    render();
  }
});
$("color").addEventListener("change", () => {
  if (S.selected >= 0) {
    const before = S.colourEdit === null ? snapshot() : S.colourEdit;
    S.points[S.selected].color = $("color").value;
    delete S.points[S.selected].ab;
    S.colourEdit = null;
    commit(before);
  }
});
function setSize(v) {
  v = Math.max(0, Math.min(parseInt($("size").max, 10), v));
  S.size = v;
  if (S.selected >= 0) {
    const p = S.points[S.selected];
    if (v) p.size = v; else delete p.size;
  }
}
$("size").addEventListener("input", () => {
  if (S.selected >= 0 && S.sizeEdit === null) S.sizeEdit = snapshot();
  setSize(parseInt($("size").value, 10));
  render();
  if (S.selected >= 0) preview();
});
$("size").addEventListener("change", () => {
  if (S.sizeEdit !== null) { const b = S.sizeEdit; S.sizeEdit = null; commit(b); }
});
$("saturation").addEventListener("input", () => {
  S.saturation = parseFloat($("saturation").value);
  satLabel();
  preview();
});
function satLabel() {
  $("sat-label").textContent = S.saturation.toFixed(2) +
    (Math.abs(S.saturation - S.modelSaturation) < 1e-9 ? "" : " *");
  $("sat-label").title = "the model's: " + S.modelSaturation.toFixed(2);
}
$("delete").addEventListener("click", () => deletePoint(S.selected));
$("undo").addEventListener("click", undo);
$("redo").addEventListener("click", redo);
$("save").addEventListener("click", save);
$("prev").addEventListener("click", () => step(-1));
$("next").addEventListener("click", () => step(1));
$("view").addEventListener("click", toggleView);
function toggleView() {
  S.view = S.view === "side" ? "single" : "side";
  $("panes").className = S.view;
  $("view").textContent = S.view === "side" ? "Single view" : "Side by side";
  $("colour-caption").textContent = S.view === "side" ? "Colour" : "Colour \u00b7 hold Space for the gray photo";
  relayout();
}

document.addEventListener("keydown", (e) => {
  const t = e.target;
  const inField = t && t.tagName === "INPUT" && !["range", "color"].includes(t.type);
  if (inField) return;
  const mod = e.ctrlKey || e.metaKey;
  const k = e.key.toLowerCase();
  if (mod && k === "z" && !e.shiftKey) { e.preventDefault(); undo(); return; }
  if (mod && (k === "y" || (k === "z" && e.shiftKey))) { e.preventDefault(); redo(); return; }
  if (mod && k === "s") { e.preventDefault(); save(); return; }
  if (mod || e.altKey) return;
  const onRange = t && t.tagName === "INPUT" && t.type === "range";
  if (e.key === "Delete" || e.key === "Backspace") { e.preventDefault(); deletePoint(S.selected); }
  else if (e.key === "Escape") select(-1);
  else if (e.key === "[" || e.key === "]") {
    const before = snapshot();
    const auto = Math.round((S.meta.default_size[0] + S.meta.default_size[1]) / 2);
    const cur = S.size || auto;
    setSize(e.key === "]" ? Math.round(cur * 1.25 + 1) : Math.round(cur / 1.25));
    if (S.selected >= 0) commit(before); else render();
  }
  else if (k === "n" || (e.key === "ArrowRight" && !onRange)) step(1);
  else if (k === "p" || (e.key === "ArrowLeft" && !onRange)) step(-1);
  else if (k === "v") toggleView();
  else if (k === "h") { S.hideMarks = !S.hideMarks; render(); }
  else if (e.key === " " && !onRange) {
    e.preventDefault();
    if (S.view === "single" && !S.showGray) { S.showGray = true; $("panes").classList.add("gray"); }
  }
  else if (/^[1-9]$/.test(e.key) && COMMON[+e.key - 1]) setColour(COMMON[+e.key - 1][1]);
});
document.addEventListener("keyup", (e) => {
  if (e.key === " " && S.showGray) { S.showGray = false; $("panes").classList.remove("gray"); }
});
window.addEventListener("resize", relayout);
window.addEventListener("beforeunload", (e) => {
  stash();
  const dirty = !S.saved || Object.values(S.edits).some((x) => !x.saved);
  if (dirty) { e.preventDefault(); e.returnValue = ""; }
});

// --- start --------------------------------------------------------------
(async function start() {
  const keys = $("keys");
  for (const [k, what] of KEYS) {
    const dt = document.createElement("dt");
    k.split(/(\s*[,/]\s*|\s+\u2013\s+)/).forEach((part) => {
      if (/^\s*[,/]\s*$|\u2013/.test(part)) dt.appendChild(document.createTextNode(part));
      else if (part) { const kb = document.createElement("kbd"); kb.textContent = part; dt.appendChild(kb); }
    });
    const dd = document.createElement("dd"); dd.textContent = what;
    keys.appendChild(dt); keys.appendChild(dd);
  }
  COMMON.forEach(([name, hex], i) => $("sw-common").appendChild(swatch(hex, name, i < 9 ? i + 1 : 0)));
  if (location.search.includes("token=")) history.replaceState(null, "", "/");
  try {
    const st = await (await api("/api/state")).json();
    S.photos = st.photos;
    S.saturation = S.modelSaturation = st.saturation;
    $("saturation").value = st.saturation;
    satLabel();
    $("nav").hidden = S.photos.length < 2;
    S.ready = st.ready;
    if (!st.ready) setStatus("Loading the model (the first time takes a while)\u2026");
    await show(0);
  } catch (e) {
    setStatus(e.message, true);
  }
})();
"""


def html():
    return _HTML


def _js():
    import json

    return (JS.replace("__COMMON__", json.dumps(COMMON_COLOURS))
            .replace("__KEYS__", json.dumps(KEYS)))


JS = _js()
