// moderation label --web: the page of a labeling session. Everything the server sends that came
// from a comment is put into text nodes (textContent), never parsed as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const HEADINGS = { label: "moderation label", review: "moderation label --review", adjudicate: "moderation labels adjudicate" };
const HELP = [
  ["s / o / d", "toggle slur / off_topic / delete"],
  ["Enter", "save the toggled labels (nothing toggled = clean) and go on"],
  ["n", "save as clean and go on"],
  ["x", "skip: save nothing; it comes back next session"],
  ["u", "undo your last saved label: that comment comes back"],
  ["c", "show the thread context: the article and earlier posts (c again: back)"],
  ["/", "write a note for this label (Enter keeps it, Esc drops it)"],
  ["?", "show or hide this help"],
  ["q", "end this session (labels are saved as you go)"],
];
const NAMED = { Enter: "\r", Escape: "\x1b", Backspace: "\x7f", PageDown: "<pgdn>", PageUp: "<pgup>", ArrowDown: "<down>", ArrowUp: "<up>" };

const params = new URLSearchParams(location.search);
let annotator = params.get("annotator") || localStorage.getItem("moderation.annotator") || "";
let chain = Promise.resolve();
let shownSeq = -1; // the newest view on the page: an older answer (a slow spans request) is dropped
let waitingSpans = false;
// With ?bench=1 the page keeps, per key, when it was pressed, when the answer came and when the
// next comment was drawn (benchmarks/label_bench.py --web reads window.__timings).
const bench = params.get("bench") === "1";
window.__timings = [];

// Each element is rewritten only when what it shows changed: a key redraws the comment and the
// status line, not the whole page (no re-layout of parts that stay).
const last = new Map();
function changed(el, value) {
  const before = last.get(el);
  if (before === value) return false;
  last.set(el, value);
  return true;
}

function text(el, value) {
  const shown = value == null ? "" : String(value);
  if (changed(el, shown)) el.textContent = shown;
}

function fill(el, segments) {
  if (!changed(el, JSON.stringify(segments))) return;
  el.replaceChildren(...segments.map(([piece, classes]) => {
    if (!classes) return document.createTextNode(piece);
    const span = document.createElement("span");
    span.className = classes;
    span.textContent = piece;
    return span;
  }));
}

function items(el, rows, make) {
  if (!changed(el, JSON.stringify(rows))) return;
  el.replaceChildren(...rows.map((row) => { const li = document.createElement("li"); make(li, row); return li; }));
}

function hide(el, hidden) { if (el.hidden !== hidden) el.hidden = hidden; }

function render(v) {
  if (v.seq < shownSeq) return false;
  shownSeq = v.seq;
  document.body.dataset.ready = "1";
  text($("heading"), HEADINGS[v.mode] || "moderation label");
  text($("where"), `→ ${v.labels_path} · order ${v.order}` + (v.model ? ` · model ${v.model}` : ""));
  const p = v.progress;
  const rate = p.rate_per_hour == null ? "—" : Math.round(p.rate_per_hour).toLocaleString();
  text($("progress"), `labeled ${p.done} of ${p.total} · ${p.this_session} this session · ${p.skipped} skipped · ${p.left} left · ${rate}/h`);
  items($("notices"), v.notices, (li, n) => text(li, "warning: " + n));
  text($("status"), v.status);
  hide($("help"), !v.help);
  const c = v.comment;
  hide($("main"), !c || v.help);
  hide($("done"), !!c && !v.ended);
  if (v.ended) {
    text($("done"), `Session ended for ${v.annotator}: every label is saved. Press a key to go on.`);
  } else if (!c) {
    text($("done"), v.all_done ? `All ${p.total} comments are labeled by ${v.annotator} (${p.this_session} this session).`
      : `Nothing left this session: the ${p.total - p.done} skipped come back next time. u undoes the last label.`);
  }
  if (!c) return true;
  text($("title"), c.title || "(no title in the input)");
  text($("threadid"), `[${c.thread}]`);
  items($("replies"), c.replies, (li, [n, t]) => text(li, `↳ replies to >>${n}  ` + (t === null ? "(not in this input)" : t === "" ? "[deleted post]" : t)));
  $("panel").classList.toggle("context", v.context);
  text($("panel-title"), v.context ? "thread context: the article and earlier posts (c: back to the comment)" : (c.no == null ? "comment" : `comment ${c.no}`));
  fill($("text"), v.context ? c.context : c.text);
  text($("id"), "id " + c.id);
  items($("others"), c.others, (li, [who, labels, note]) => text(li, `by ${who}: ${labels}` + (note ? ` — ${note}` : "")));
  hide($("note-line"), !(v.note || v.editing_note));
  text($("note"), v.note);
  hide($("caret"), !v.editing_note);
  const s = v.scores;
  hide($("model"), !s);
  if (s) {
    const scores = Object.entries(s.scores).map(([k, x]) => `${k} ${x == null ? "—" : x.toFixed(2)}`).join("   ");
    const spans = s.spans == null ? "…" : s.spans.length ? s.spans.map(([l, e]) => `${l}: 「${e}」`).join("  ") : (s.flagged.length ? "no span stands out" : "nothing flagged");
    text($("model"), `model ${scores} → ${s.action} · spans ${spans}`);
  }
  if (changed($("toggles"), v.toggles.join())) {
    $("toggles").replaceChildren(...[["s", "slur"], ["o", "off_topic"], ["d", "delete"]].map(([k, label]) => {
      const span = document.createElement("span");
      const on = v.toggles.includes(label);
      span.className = on ? "on" : "";
      span.dataset.label = label;
      span.textContent = `[${on ? "x" : " "}] ${k} ${label}`;
      return span;
    }));
  }
  if (v.spans_pending) waitForSpans();
  return true;
}

// The model's spans of the comment on screen are computed apart from the keys: ask once more,
// the server answers when they are there (or the page has moved on: then the answer is dropped).
async function waitForSpans() {
  if (waitingSpans) return;
  waitingSpans = true;
  try {
    const r = await fetch("/api/view?wait=spans&annotator=" + encodeURIComponent(annotator));
    if (r.ok) render(await r.json());
  } catch (e) {
    // the next key brings a fresh view anyway
  } finally {
    waitingSpans = false;
  }
}

async function post(key, pressed) {
  const r = await fetch("/api/key", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ annotator, key }) });
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.statusText);
  const answered = performance.now();
  render(body);
  if (bench) {
    const drawn = performance.now();
    const server = /app;dur=([0-9.]+)/.exec(r.headers.get("Server-Timing") || "");
    // After the next frame is painted: what the moderator sees.
    requestAnimationFrame(() => setTimeout(() => window.__timings.push({
      key, pressed, answered, drawn, painted: performance.now(), server: server ? +server[1] : null,
    }), 0));
  }
}

function send(key, pressed = performance.now()) {
  if (!annotator) { $("annotator").focus(); return; }
  chain = chain.then(() => post(key, pressed)).catch((e) => text($("status"), "error: " + e.message));
}

async function load() {
  $("annotator").value = annotator;
  if (!annotator) { text($("status"), "type your annotator name and press Enter"); $("annotator").focus(); return; }
  localStorage.setItem("moderation.annotator", annotator);
  const r = await fetch("/api/view?annotator=" + encodeURIComponent(annotator));
  const body = await r.json();
  if (!r.ok) { text($("status"), "error: " + body.error); return; }
  render(body);
  $("keyinput").focus();
}

document.addEventListener("DOMContentLoaded", () => {
  $("help").replaceChildren(...HELP.map(([k, what]) => {
    const tr = document.createElement("tr");
    for (const cell of [k, what]) { const td = document.createElement("td"); td.textContent = cell; tr.append(td); }
    return tr;
  }));
  document.addEventListener("keydown", (e) => {
    if (e.target === $("annotator")) {
      if (e.key === "Enter") { e.preventDefault(); annotator = $("annotator").value.trim(); chain = chain.then(load); }
      return;
    }
    if (e.isComposing || e.keyCode === 229 || e.ctrlKey || e.metaKey || e.altKey) return;
    const key = e.key in NAMED ? NAMED[e.key] : (e.key.length === 1 ? e.key : null);
    if (key === null) return;
    e.preventDefault();
    send(key, e.timeStamp);
  });
  // An input method delivers what it typed when composition ends: each character is a key
  // (the session reads ｓ or す as s and says an input method seems on).
  $("keyinput").addEventListener("compositionend", (e) => { for (const ch of e.data || "") send(ch); $("keyinput").value = ""; });
  // Text inserted without a key (pasted, or typed by a tool): each character is a key too.
  $("keyinput").addEventListener("input", (e) => {
    if (e.isComposing || e.inputType !== "insertText") return;
    for (const ch of e.data || "") send(ch);
    $("keyinput").value = "";
  });
  document.addEventListener("click", (e) => { if (e.target !== $("annotator")) $("keyinput").focus(); });
  load();
});
