// ganforge explorer: plain JavaScript, no external requests (everything comes from this server).
"use strict";

const $ = (id) => document.getElementById(id);
const state = { models: [], model: null, centre: null, centreLabel: "", centreClass: null, pca: [], busy: 0, timer: null, jitterBase: 1 };
const GRID = 16, NEIGHBOURS = 8;

function setStatus(text, error) {
  const s = $("status");
  s.textContent = text;
  s.classList.toggle("error", !!error);
}

// body.dataset.busy counts work in flight (tests and scripts wait for "0"). It covers a request *and*
// reading its body, and selectModel holds it across its chained draws, so it never reads "0" between
// one step and the next.
async function holding(work) {
  state.busy++;
  document.body.dataset.busy = String(state.busy);
  try { return await work(); } finally {
    state.busy--;
    document.body.dataset.busy = String(state.busy);
  }
}

async function api(path, body, raw, read = "json") {
  const headers = {};
  const key = $("api-key").value;
  if (key) headers["X-API-Key"] = key;
  let init = { method: "GET", headers };
  if (raw) { init = { method: "POST", headers, body: raw }; }
  else if (body !== undefined) { headers["Content-Type"] = "application/json"; init = { method: "POST", headers, body: JSON.stringify(body) }; }
  return holding(async () => {
    const r = await fetch(path, init);
    if (r.status === 401) { $("key-box").hidden = false; }
    if (!r.ok) {
      let msg = r.status + "";
      try { msg = (await r.json()).error || msg; } catch (e) { /* not JSON */ }
      throw new Error(msg);
    }
    return read === "blob" ? r.blob() : r.json();
  });
}

function common() {
  const body = {};
  const m = state.model;
  if (m.num_classes && $("class").value !== "") body["class"] = Number($("class").value);
  else if (m.num_classes) body["class"] = state.centreClass === null ? 0 : state.centreClass; // "all": items carry theirs
  if (m.truncation) body.truncation = Number($("truncation").value);
  return body;
}

async function latents(items) {
  const out = await api(`/models/${encodeURIComponent(state.model.name)}/latents`,
    Object.assign({ items, format: "json", return_latents: true }, common()));
  return out.images.map((b, i) => ({ src: "data:image/png;base64," + b, z: out.latents[i] }));
}

function seed0() { return Math.max(0, Math.floor(Number($("seed").value) || 0)); }

async function loadModels() {
  try {
    state.models = (await api("/models")).models;
  } catch (e) { setStatus("cannot list models: " + e.message, true); return; }
  const sel = $("model");
  sel.innerHTML = "";
  for (const m of state.models) {
    const o = document.createElement("option");
    o.value = m.name; o.textContent = `${m.name} (${m.recipe}, ${m.task})`;
    sel.appendChild(o);
  }
  if (state.models.length) await selectModel(state.models[0].name);
}

async function selectModel(name) {
  const m = state.models.find((x) => x.name === name);
  state.model = m;
  $("model-info").textContent = `${m.data}, ${m.shape.join("x")}, step ${m.step}`;
  const explorable = m.endpoints.includes("latents");
  $("class-box").hidden = !m.num_classes;
  if (m.num_classes) {
    const sel = $("class");
    sel.innerHTML = "";
    const all = document.createElement("option"); all.value = ""; all.textContent = "all (one per sample)"; sel.appendChild(all);
    m.classes.forEach((c, i) => { const o = document.createElement("option"); o.value = i; o.textContent = c; sel.appendChild(o); });
  }
  $("trunc-box").hidden = !m.truncation;
  $("pca-box").hidden = !m.pca;
  buildSliders(m.pca ? m.pca.components : 0);
  for (const id of ["grid-box", "centre-box", "interp-box"]) $(id).hidden = !explorable;
  $("translate-box").hidden = !m.endpoints.includes("translate");
  state.centre = null; state.centreClass = null;
  if (explorable) await holding(async () => { await drawGrid(); await drawCentre(); await drawInterpolation(); });
  setStatus(explorable || m.endpoints.includes("translate") ? "ready" : "this model has nothing to explore here; use the API");
}

function buildSliders(k) {
  const box = $("sliders");
  box.innerHTML = "";
  state.pca = new Array(k).fill(0);
  for (let i = 0; i < k; i++) {
    const label = document.createElement("label");
    const name = document.createElement("span"); name.textContent = "PC" + (i + 1);
    const input = document.createElement("input");
    Object.assign(input, { type: "range", min: -3, max: 3, step: 0.1, value: 0, id: "pc" + i });
    input.setAttribute("aria-label", `principal direction ${i + 1}`);
    const out = document.createElement("output"); out.textContent = "0";
    input.addEventListener("input", () => {
      state.pca[i] = Number(input.value); out.textContent = input.value;
      clearTimeout(state.timer); state.timer = setTimeout(drawCentre, 60);
    });
    label.append(name, input, out);
    box.appendChild(label);
  }
}

function imageButton(src, label, onPick) {
  const b = document.createElement("button");
  b.type = "button"; b.setAttribute("aria-label", label); b.setAttribute("role", "listitem");
  const img = document.createElement("img"); img.src = src; img.alt = label;
  b.appendChild(img);
  b.addEventListener("click", onPick);
  return b;
}

async function drawGrid() {
  const first = seed0();
  const m = state.model, all = m.num_classes && $("class").value === "";
  const items = Array.from({ length: GRID }, (_, i) => (all ? { seed: first + i, class: i % m.num_classes } : { seed: first + i }));
  try {
    const images = await latents(items);
    const grid = $("grid");
    grid.innerHTML = "";
    images.forEach((im, i) => {
      const label = `sample with seed ${first + i}`;
      const cls = all ? i % m.num_classes : null;
      const b = imageButton(im.src, label, () => { state.centreClass = cls; centreOn(im.z, label); });
      if (label === state.centreLabel) b.classList.add("centre");
      grid.appendChild(b);
    });
    if (state.centre === null) { state.centre = images[0].z; state.centreClass = all ? 0 : null; state.centreLabel = `sample with seed ${first}`; grid.firstChild.classList.add("centre"); }
  } catch (e) { setStatus(e.message, true); }
}

async function centreOn(z, label) {
  if (z) { state.centre = z; state.centreLabel = label; state.jitterBase += NEIGHBOURS; }
  state.pca = state.pca.map(() => 0);
  document.querySelectorAll("#sliders input").forEach((s) => { s.value = 0; s.nextSibling.textContent = "0"; });
  document.querySelectorAll("#grid button").forEach((b) => b.classList.toggle("centre", b.getAttribute("aria-label") === state.centreLabel));
  await drawCentre();
}

async function drawCentre() {
  if (state.centre === null) return;
  const pca = state.pca.slice();
  const z = state.centre;
  const items = [{ z, pca }];
  for (let j = 0; j < NEIGHBOURS; j++) items.push({ z, pca, jitter: 0.5, jitter_seed: state.jitterBase + j });
  try {
    const images = await latents(items);
    $("centre-seed").textContent = state.centreLabel;
    const box = $("neighbours");
    const centreImg = $("centre-img");
    centreImg.src = images[0].src;
    box.querySelectorAll("button").forEach((b) => b.remove());
    const cells = [0, 1, 2, 3, 5, 6, 7, 8]; // the 3x3 cells around the centre (cell 4)
    images.slice(1).forEach((im, j) => {
      const label = `neighbour ${j + 1}`;
      const b = imageButton(im.src, label, () => centreOn(im.z, `neighbour of ${state.centreLabel}`));
      b.style.gridRow = String(Math.floor(cells[j] / 3) + 1);
      b.style.gridColumn = String((cells[j] % 3) + 1);
      box.appendChild(b);
    });
    setStatus("ready");
  } catch (e) { setStatus(e.message, true); }
}

async function drawInterpolation() {
  const a = Math.max(0, Math.floor(Number($("seed-a").value) || 0));
  const b = Math.max(0, Math.floor(Number($("seed-b").value) || 0));
  const steps = 8;
  const items = Array.from({ length: steps }, (_, i) => ({ seed: a, towards: b, t: i / (steps - 1) }));
  try {
    const images = await latents(items);
    const box = $("interp");
    box.innerHTML = "";
    images.forEach((im, i) => {
      const img = document.createElement("img"); img.src = im.src; img.alt = `interpolation step ${i + 1} of ${steps}`;
      box.appendChild(img);
    });
  } catch (e) { setStatus(e.message, true); }
}

async function translateUpload() {
  const file = $("upload").files[0];
  if (!file) return;
  $("upload-preview").src = URL.createObjectURL(file);
  const form = new FormData();
  form.append("image", file);
  try {
    const blob = await api(`/models/${encodeURIComponent(state.model.name)}/translate`, undefined, form, "blob");
    $("translated").src = URL.createObjectURL(blob);
    setStatus("translated " + file.name);
  } catch (e) { setStatus(e.message, true); }
}

$("model").addEventListener("change", (e) => selectModel(e.target.value));
$("class").addEventListener("change", () => { drawGrid(); drawCentre(); drawInterpolation(); });
$("truncation").addEventListener("input", (e) => {
  $("truncation-value").textContent = e.target.value;
  clearTimeout(state.timer); state.timer = setTimeout(() => { drawGrid(); drawCentre(); }, 80);
});
$("seed").addEventListener("change", drawGrid);
$("reseed").addEventListener("click", () => { $("seed").value = seed0() + GRID; drawGrid(); });
$("reset-sliders").addEventListener("click", () => centreOn(null));
$("interpolate").addEventListener("click", drawInterpolation);
$("upload").addEventListener("change", translateUpload);
document.addEventListener("keydown", (e) => {
  if (e.target.matches("input, select, textarea")) return;
  if (e.key === "n") $("reseed").click();
  if (e.key === "r") $("reset-sliders").click();
});
loadModels();
