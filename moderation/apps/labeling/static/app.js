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

function text(el, value) { el.textContent = value == null ? "" : String(value); }

function fill(el, segments) {
  el.replaceChildren(...segments.map(([piece, classes]) => {
    if (!classes) return document.createTextNode(piece);
    const span = document.createElement("span");
    span.className = classes;
    span.textContent = piece;
    return span;
  }));
}

function items(el, rows, make) {
  el.replaceChildren(...rows.map((row) => { const li = document.createElement("li"); make(li, row); return li; }));
}

function render(v) {
  document.body.dataset.ready = "1";
  text($("heading"), HEADINGS[v.mode] || "moderation label");
  text($("where"), `→ ${v.labels_path} · order ${v.order}` + (v.model ? ` · model ${v.model}` : ""));
  const p = v.progress;
  const rate = p.rate_per_hour == null ? "—" : Math.round(p.rate_per_hour).toLocaleString();
  text($("progress"), `labeled ${p.done} of ${p.total} · ${p.this_session} this session · ${p.skipped} skipped · ${p.left} left · ${rate}/h`);
  items($("notices"), v.notices, (li, n) => text(li, "warning: " + n));
  text($("status"), v.status);
  $("help").hidden = !v.help;
  const c = v.comment;
  $("main").hidden = !c || v.help;
  $("done").hidden = !!c && !v.ended;
  if (v.ended) {
    text($("done"), `Session ended for ${v.annotator}: every label is saved. Press a key to go on.`);
  } else if (!c) {
    text($("done"), v.all_done ? `All ${p.total} comments are labeled by ${v.annotator} (${p.this_session} this session).`
      : `Nothing left this session: the ${p.total - p.done} skipped come back next time. u undoes the last label.`);
  }
  if (!c) return;
  text($("title"), c.title || "(no title in the input)");
  text($("threadid"), `[${c.thread}]`);
  items($("replies"), c.replies, (li, [n, t]) => text(li, `↳ replies to >>${n}  ` + (t === null ? "(not in this input)" : t === "" ? "[deleted post]" : t)));
  $("panel").classList.toggle("context", v.context);
  text($("panel-title"), v.context ? "thread context: the article and earlier posts (c: back to the comment)" : (c.no == null ? "comment" : `comment ${c.no}`));
  fill($("text"), v.context ? c.context : c.text);
  text($("id"), "id " + c.id);
  items($("others"), c.others, (li, [who, labels, note]) => text(li, `by ${who}: ${labels}` + (note ? ` — ${note}` : "")));
  $("note-line").hidden = !(v.note || v.editing_note);
  text($("note"), v.note);
  $("caret").hidden = !v.editing_note;
  const s = v.scores;
  $("model").hidden = !s;
  if (s) {
    const scores = Object.entries(s.scores).map(([k, x]) => `${k} ${x == null ? "—" : x.toFixed(2)}`).join("   ");
    const spans = s.spans == null ? "…" : s.spans.length ? s.spans.map(([l, e]) => `${l}: 「${e}」`).join("  ") : (s.flagged.length ? "no span stands out" : "nothing flagged");
    text($("model"), `model ${scores} → ${s.action} · spans ${spans}`);
  }
  $("toggles").replaceChildren(...[["s", "slur"], ["o", "off_topic"], ["d", "delete"]].map(([k, label]) => {
    const span = document.createElement("span");
    const on = v.toggles.includes(label);
    span.className = on ? "on" : "";
    span.dataset.label = label;
    span.textContent = `[${on ? "x" : " "}] ${k} ${label}`;
    return span;
  }));
}

async function post(key) {
  const r = await fetch("/api/key", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ annotator, key }) });
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.statusText);
  render(body);
}

function send(key) {
  if (!annotator) { $("annotator").focus(); return; }
  chain = chain.then(() => post(key)).catch((e) => text($("status"), "error: " + e.message));
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
    send(key);
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
