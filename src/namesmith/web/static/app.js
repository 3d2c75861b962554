// namesmith page: talks to the JSON API of the server that served it (same origin only), or, in a page made
// by `namesmith export --web`, to the model running in the browser (export-page.js).
"use strict";

const $ = (id) => document.getElementById(id);
let models = [];
let lastNames = [];

let options = [];  // the generation controls, as declared (GET /api/options)

function plainWords(message) {
  // the API names its parameters; the page shows the labels the user sees
  return message.replace(/'?\b([a-z_]+)\b'?/g, (m, key) => {
    const o = options.find((x) => x.name === key);
    return o && !o.hidden ? `“${o.label.toLowerCase()}”` : m;
  });
}

function control(o) {
  // one form field for a declared option: its label, limits, default and help from the declaration
  const wrap = document.createElement(o.kind === "bool" ? "label" : "div");
  const input = document.createElement("input");
  input.id = input.name = o.name;
  if (o.kind === "bool") {
    input.type = "checkbox";
    input.checked = !!o.default;
    wrap.append(input, ` ${o.label}`);
    wrap.title = o.help;
    return wrap;
  }
  wrap.className = "field";
  const label = document.createElement("label");
  label.htmlFor = o.name;
  label.textContent = o.label;
  if (o.optional && o.kind !== "text") {
    const opt = document.createElement("span");
    opt.className = "opt";
    opt.textContent = o.name === "seed" ? " (blank = random)" : " (optional)";
    label.append(opt);
  }
  if (o.widget === "factor" || o.kind === "choice") {
    // a choice; a further factor of the chosen model (kind, sex) starts at "any", its values filled by fillStyles
    const select = document.createElement("select");
    select.id = select.name = o.name;
    if (o.widget === "factor") select.append(new Option("any", "", true, true));
    else for (const c of o.choices) select.append(new Option(c, c, c === o.default, c === o.default));
    const hint = document.createElement("p");
    hint.className = "hint";
    hint.id = `${o.name}-hint`;
    hint.textContent = o.help;
    select.setAttribute("aria-describedby", hint.id);
    wrap.append(label, select, hint);
    return wrap;
  }
  if (o.kind === "int" || o.kind === "float") {
    input.type = o.widget === "range" ? "range" : "number";
    input.inputMode = o.kind === "int" ? "numeric" : "decimal";
    if (o.min !== null) input.min = o.exclusive_min ? (o.step || 0.01) : o.min;
    if (o.max !== null) input.max = o.max;
    input.step = o.step || (o.kind === "int" ? 1 : "any");
    if (o.default !== null) input.value = o.default;
  } else {
    input.type = "text";
    input.autocomplete = "off";
    input.spellcheck = false;
    if (o.longest) input.maxLength = o.longest;
    input.value = o.default || "";
  }
  const hint = document.createElement("p");
  hint.className = "hint";
  hint.id = `${o.name}-hint`;
  hint.textContent = o.help;
  input.setAttribute("aria-describedby", hint.id);
  if (input.type === "range") {
    const out = document.createElement("output");
    out.id = `${o.name}-out`;
    out.htmlFor = o.name;
    out.textContent = Number(input.value).toFixed(2);
    label.append(" ", out);
    input.addEventListener("input", () => { out.textContent = Number(input.value).toFixed(2); });
  }
  wrap.append(label, input, hint);
  return wrap;
}

async function loadOptions() {
  options = (await api("/api/options")).options;
  const groups = { main: $("main-controls"), checks: $("check-controls"), style: $("style-controls") };
  for (const o of options) {
    if (o.hidden) continue;
    (groups[o.group] || $("more-controls")).appendChild(control(o));
  }
}

function showError(el, message) {
  el.textContent = message ? plainWords(message) : "";
  el.hidden = !message;
}

async function api(path, body) {
  // an exported page (namesmith export --web) answers in the browser: export-page.js sets namesmithLocal
  if (globalThis.namesmithLocal) return globalThis.namesmithLocal.request(path, body);
  const opts = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  let res;
  try {
    res = await fetch(path, opts);
  } catch (e) {
    throw new Error("The namesmith server did not answer. Is it still running?");
  }
  let data = null;
  try { data = await res.json(); } catch (e) { /* not JSON */ }
  if (!res.ok) throw new Error((data && data.error) || `The server answered ${res.status}.`);
  return data;
}

function capitalise(name) { return name ? name[0].toUpperCase() + name.slice(1) : name; }

function currentModel() { return models.find((x) => x.name === $("model").value); }

function fillStyles() {
  // the chosen model's styles in the style picker, the blend picker and the classify panel
  const m = currentModel();
  const styles = (m && m.styles) || [];
  for (const id of ["style", "style2"]) {
    const sel = $(id);
    const keep = sel.value;
    while (sel.options.length > 1) sel.remove(1);
    for (const st of styles) {
      const opt = document.createElement("option");
      opt.value = st.name;
      opt.textContent = st.name; // the count in the tooltip: "Italian (1,453 names)" was cut in a narrow picker
      opt.title = `${st.name}: ${st.names.toLocaleString()} training names`;
      sel.appendChild(opt);
    }
    sel.value = styles.some((st) => st.name === keep) ? keep : "";
  }
  $("style-controls").hidden = $("classify-panel").hidden = !styles.length;
  for (const o of options.filter((x) => x.widget === "factor")) {
    const sel = $(o.name);
    if (!sel) continue;
    const values = (m && m.factors && m.factors[o.name]) || [];
    const keep = sel.value;
    while (sel.options.length > 1) sel.remove(1);
    for (const v of values) sel.append(new Option(v, v));
    sel.value = values.includes(keep) ? keep : "";
    sel.parentElement.hidden = !values.length; // only the factors this model learned
  }
  syncBlend();
}

function syncBlend() {
  const first = $("style").value;
  $("style2").disabled = !first;
  if (!first) $("style2").value = "";
  $("blend").disabled = !(first && $("style2").value);
  const w = parseFloat($("blend").value);
  $("blend-out").textContent = `${Math.round(100 * w)}% / ${Math.round(100 * (1 - w))}%`;
}

function styleRequest() {
  // "A", or {"A": w, "B": 1 - w} for a blend of two styles
  const a = $("style").value, b = $("style2").value;
  if (!a) return undefined;
  if (!b || b === a) return a;
  const w = parseFloat($("blend").value);
  return { [a]: w, [b]: Math.round((1 - w) * 100) / 100 };
}

function describeModel() {
  fillStyles();
  for (const id of ["classify-result", "score-result", "classify-error", "score-error"]) if ($(id)) $(id).replaceChildren();
  const m = currentModel();
  if (!m) { $("model-info").textContent = ""; return; }
  const nll = m.val_nll ? `held-out NLL ${m.val_nll.toFixed(3)} nats per letter` : "no held-out NLL recorded";
  const list = m.corpus && m.corpus.startsWith("builtin:") ? `the built-in ${m.corpus.slice(8)} list` : m.corpus;
  const corpus = list ? `trained on ${list}${m.corpus_names ? ` (${m.corpus_names.toLocaleString()} names)` : ""}` : "";
  const what = m.summary || m.description;
  $("model-info").textContent = [what.charAt(0).toUpperCase() + what.slice(1), corpus, nll].filter(Boolean).join("; ") + ".";
  $("model-info").title = m.description; // the engineer's description, on hover
}

async function loadModels() {
  try {
    models = (await api("/api/models")).models;
  } catch (e) {
    showError($("gen-error"), e.message);
    return;
  }
  const sel = $("model");
  sel.innerHTML = "";
  for (const m of models) {
    const opt = document.createElement("option");
    opt.value = m.name;
    opt.textContent = `${m.name} — ${m.type}${m.val_nll ? `, NLL ${m.val_nll.toFixed(3)}` : ""}`;
    sel.appendChild(opt);
  }
  describeModel();
}

function generateRequest() {
  // every declared control's value (hidden ones: their declared default), then the model and the style
  const body = { model: $("model").value || undefined };
  for (const o of options) {
    if (o.name === "style") continue;
    const el = $(o.name);
    if (!el) { if (o.default !== null) body[o.name] = o.default; continue; }
    if (o.kind === "bool") body[o.name] = el.checked;
    else if (o.kind === "int" || o.kind === "float") {
      const v = el.value.trim();
      if (v === "") { if (!o.optional && o.default !== null) body[o.name] = o.default; else body[o.name] = null; continue; }
      const x = o.kind === "int" ? Number(v) : parseFloat(v);
      if (!Number.isFinite(x)) throw new Error(`“${o.label}” is not a number.`);
      body[o.name] = x;
    } else body[o.name] = o.optional && el.value === "" ? null : el.value;
  }
  body.style = styleRequest();
  return body;
}

function makeBar(percent, label, title) {
  // a horizontal bar filled to percent, described for screen readers
  const bar = document.createElement("div");
  bar.className = "bar";
  if (title) bar.title = title;
  bar.setAttribute("role", "img");
  bar.setAttribute("aria-label", label);
  const fill = document.createElement("span");
  fill.style.width = `${Math.round(percent)}%`;
  bar.appendChild(fill);
  return bar;
}

const PLAUSIBLE_BEST = 1.0, PLAUSIBLE_WORST = 4.0; // nats per letter at a full and an empty bar

function renderResults(names) {
  const list = $("results");
  list.innerHTML = "";
  $("results-legend").hidden = !names.length;
  if (!names.length) return;
  for (const s of names) {
    const li = document.createElement("li");
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = s.display;
    // a fixed scale, the same for every batch (it was scaled within each batch): full at 1 nat per letter,
    // empty at 4 (real given names average about 1.9)
    const frac = Math.min(1, Math.max(0, (PLAUSIBLE_WORST - s.nats_per_char) / (PLAUSIBLE_WORST - PLAUSIBLE_BEST)));
    const bar = makeBar(4 + 96 * frac, `plausibility: ${s.nats_per_char.toFixed(2)} nats per character`,
      `log-probability ${s.logprob.toFixed(2)} (${s.nats_per_char.toFixed(2)} nats/char)`);
    const tag = document.createElement("span");
    if (s.novel === false) { tag.className = "tag known"; tag.textContent = "known"; }
    else if (s.novel === true) { tag.className = "tag novel"; tag.textContent = "new"; }
    const copy = document.createElement("button");
    copy.type = "button";
    copy.className = "copy";
    copy.textContent = "Copy";
    copy.setAttribute("aria-label", `Copy ${s.display}`);
    copy.addEventListener("click", () => copyText(s.display, copy));
    li.append(name, bar, tag, copy);
    if ($("like")) { // the server's page: names like this one (an exported page has no like: Python only)
      const more = document.createElement("button");
      more.type = "button";
      more.className = "copy like";
      more.textContent = "More like this";
      more.setAttribute("aria-label", `More names like ${s.display}`);
      more.addEventListener("click", () => { $("like").value = s.display; $("gen-form").requestSubmit(); });
      li.append(more);
    }
    li.dataset.seed = s.seed;
    list.appendChild(li);
  }
}

async function copyText(text, button) {
  try {
    await navigator.clipboard.writeText(text);
    if (button) { const t = button.textContent; button.textContent = "Copied"; setTimeout(() => { button.textContent = t; }, 1200); }
  } catch (e) {
    showError($("gen-error"), "The browser did not allow copying; select the names and copy them by hand.");
  }
}

function csvField(v) {
  const s = String(v ?? "");
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function downloadCsv() {
  const rows = [["name", "logprob", "nats_per_char", "novel", "seed"]];
  for (const s of lastNames) rows.push([s.display, s.logprob, s.nats_per_char, s.novel, s.seed]);
  const blob = new Blob([rows.map((r) => r.map(csvField).join(",")).join("\n") + "\n"], { type: "text/csv" });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = "names.csv";
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

let generation = 0;

async function onGenerate(ev) {
  ev.preventDefault();
  showError($("gen-error"), "");
  const button = $("generate");
  button.disabled = true;
  $("gen-status").textContent = "Forging…";
  const mine = ++generation; // an answer to an earlier request (the one made on opening) never overwrites a later one
  try {
    const data = await api("/api/generate", generateRequest());
    if (mine !== generation) return;
    lastNames = data.names;
    renderResults(lastNames);
    const rate = data.tries ? ` (${data.names.length} of ${data.tries} candidates kept)` : "";
    const like = $("like") && $("like").value.trim();
    const steered = data.steered ? `, drawn under ${Object.entries(data.steered).map(([k, v]) => `${k} ${Math.round(100 * v)}%`).join(", ")}` : "";
    const what = like ? `${data.names.length} names like ${like}${steered}` : `${data.names.length} names`;
    $("gen-status").textContent = `${what} in ${data.elapsed_ms} ms${rate}; seed ${data.seed}.`;
    $("copy-all").disabled = $("download").disabled = !lastNames.length;
  } catch (e) {
    if (mine !== generation) return;
    $("gen-status").textContent = "";
    showError($("gen-error"), e.message);
  } finally {
    if (mine === generation) button.disabled = false;
  }
}

function surprisalColour(nats) {
  // 0 nats: pale green; 4+ nats: strong red
  const t = Math.max(0, Math.min(1, nats / 4));
  const hue = Math.round(120 * (1 - t));
  return `hsl(${hue}, 70%, ${88 - 28 * t}%)`;
}

async function onClassify(ev) {
  ev.preventDefault();
  showError($("classify-error"), "");
  const name = $("classify-name").value.trim();
  const out = $("classify-result");
  out.innerHTML = "";
  if (!name) { showError($("classify-error"), "Type a name to classify."); return; }
  try {
    const data = await api("/api/classify", { model: $("model").value || undefined, name, top: 5, fold_accents: true });
    const r = data.results[0];
    if (r.style === null) {
      showError($("classify-error"), `The model never saw ${r.unknown_chars.map((c) => `“${c}”`).join(", ")}.`);
      return;
    }
    for (const [style, p] of Object.entries(r.styles)) {
      const li = document.createElement("li");
      const label = document.createElement("span");
      label.className = "name";
      label.textContent = style;
      const bar = makeBar(Math.max(2, 100 * p), `${style}: ${(100 * p).toFixed(1)}%`);
      const pct = document.createElement("span");
      pct.className = "pct";
      pct.textContent = `${(100 * p).toFixed(1)}%`;
      li.append(label, bar, pct);
      out.appendChild(li);
    }
  } catch (e) {
    showError($("classify-error"), e.message);
  }
}

async function onScore(ev) {
  ev.preventDefault();
  showError($("score-error"), "");
  const name = $("score-name").value.trim();
  const out = $("score-result");
  out.innerHTML = "";
  if (!name) { showError($("score-error"), "Type a name to score."); return; }
  try {
    const data = await api("/api/score", { model: $("model").value || undefined, name, fold_accents: true,
                                           style: styleRequest() });
    const s = data.scores[0];
    const letters = document.createElement("div");
    letters.className = "letters";
    letters.setAttribute("aria-label", `surprisal per character of ${s.name}`);
    s.surprisal.forEach((c, i) => {
      const span = document.createElement("span");
      span.className = c.char === "<end>" ? "letter end" : "letter";
      span.textContent = c.char === "<end>" ? "⏎" : (i === 0 ? c.char.toUpperCase() : c.char);
      span.style.background = surprisalColour(c.nats);
      span.title = `${c.char === "<end>" ? "end of name" : c.char}: ${c.nats.toFixed(2)} nats`;
      letters.appendChild(span);
    });
    const lines = document.createElement("ul");
    lines.className = "score-lines";
    const worst = s.surprisal.reduce((a, b) => (b.nats > a.nats ? b : a));
    const typed = name.normalize("NFC").toLowerCase();
    const items = [
      typed !== s.name.toLowerCase() ? `read as “${capitalise(s.name)}”: the model has no accented letters like these` : null,
      `log-probability ${s.logprob.toFixed(2)} (${s.nats_per_char.toFixed(2)} nats per character)`,
      s.percentile === null ? null : `more plausible than ${s.percentile.toFixed(1)}% of the training names`,
      `least expected: ${worst.char === "<end>" ? "ending here" : `“${worst.char}”`} (${worst.nats.toFixed(2)} nats)`,
    ];
    for (const t of items.filter(Boolean)) {
      const li = document.createElement("li");
      li.textContent = t;
      lines.appendChild(li);
    }
    out.append(letters, lines);
  } catch (e) {
    showError($("score-error"), e.message);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("gen-form").addEventListener("submit", onGenerate);
  $("score-form").addEventListener("submit", onScore);
  $("classify-form").addEventListener("submit", onClassify);
  for (const id of ["style", "style2", "blend"]) $(id).addEventListener("input", syncBlend);
  $("model").addEventListener("change", describeModel);
  $("copy-all").addEventListener("click", () => copyText(lastNames.map((s) => s.display).join("\n"), $("copy-all")));
  $("download").addEventListener("click", downloadCsv);
  loadOptions().then(loadModels, (e) => showError($("gen-error"), e.message)).then(() => {
    // names as soon as the page opens (it waited for the first click)
    if (models.length) $("gen-form").requestSubmit();
  });
});
