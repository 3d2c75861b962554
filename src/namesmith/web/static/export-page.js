// export-page.js: the exported page's backend. The page (app.js, the same file `namesmith serve` serves)
// asks its questions as requests to /api/...; here the model answers them in the browser, through the
// public functions of namesmith.js only (load, sample, score, classify), with the same JSON as the server.
// The exported index.html holds namesmith.js followed by this file in one inline module: browsers refuse
// module files and fetch() on file:// pages, and the page must work from a folder on disk.
const exported = load(globalThis.NAMESMITH_MODEL === undefined
  ? Promise.reject(new Error("model.js did not load: keep it beside index.html")) : globalThis.NAMESMITH_MODEL);
const pageName = () => document.title.replace(/ — namesmith$/, "");

async function answer(path, body) {
  const model = await exported;
  if (path === "/api/options") return { options: model.doc.page_options };
  if (path === "/api/models") return { models: [{ name: pageName(), ...model.info }] };
  const { model: _ignored, ...options } = body || {};
  if (path === "/api/generate") {
    const t0 = performance.now();
    const names = model.sample(options);
    return { model: pageName(), seed: names.seed, tries: names.tries, names: [...names],
             elapsed_ms: Math.round((performance.now() - t0) * 100) / 100 };
  }
  if (path === "/api/score") {
    const s = model.score(options.name, { style: options.style, fold_accents: options.fold_accents });
    if (s.logprob === null) {
      throw new Error(`“${s.name}” uses letters this model never saw (${s.unknown_chars.map((c) => `“${c}”`).join(", ")})`);
    }
    return { model: pageName(), scores: [s] };
  }
  if (path === "/api/classify") {
    return { model: pageName(), results: [model.classify(options.name, { top: options.top, fold_accents: options.fold_accents })] };
  }
  throw new Error(`the exported page has no ${path}`);
}

globalThis.namesmithLocal = { request: answer };
