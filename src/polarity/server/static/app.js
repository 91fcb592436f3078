// The page at /: classify a review with POST /v1/predict, colour its words with POST /v1/explain.
// The API key (if the server wants one) lives in this variable only: never stored anywhere.
"use strict";

const $ = (id) => document.getElementById(id);
let apiKey = "";

function headers() {
  const h = { "Content-Type": "application/json" };
  if (apiKey) h["Authorization"] = "Bearer " + apiKey;
  return h;
}

async function call(method, path, body) {
  const response = await fetch(path, { method, headers: headers(), body: body ? JSON.stringify(body) : undefined });
  let data = null;
  try { data = await response.json(); } catch (_) { /* not JSON */ }
  if (!response.ok) {
    const error = (data && data.error) || { code: "http_" + response.status, message: response.statusText };
    const exc = new Error(error.message);
    exc.status = response.status;
    exc.code = error.code;
    throw exc;
  }
  return data;
}

function setStatus(text, isError) {
  $("status").textContent = text;
  $("status").classList.toggle("error", Boolean(isError));
}

function explainError(exc) {
  if (exc.status === 401) {
    $("key-box").open = true;
    $("api-key").focus();
    return "This server needs an API key: paste it under \u201cAPI key\u201d, then try again. (" + exc.message + ")";
  }
  return exc.message || String(exc);
}

async function loadModels() {
  const select = $("model");
  try {
    const data = await call("GET", "/v1/models");
    select.replaceChildren();
    for (const model of data.models) {
      const option = document.createElement("option");
      option.value = model.name;
      option.textContent = model.name + " (" + model.recipe + ")";
      option.dataset.info = describe(model);
      option.selected = model.default;
      select.append(option);
    }
    showModelInfo();
    setStatus("");
  } catch (exc) {
    select.replaceChildren(new Option("(models not loaded)", ""));
    setStatus(explainError(exc), true);
  }
}

function describe(model) {
  const labels = "labels: " + model.labels.join(", ");
  const m = model.metrics;
  if (m && typeof m.accuracy === "number") {
    return labels + " \u00b7 " + model.metrics_split + " accuracy " + (100 * m.accuracy).toFixed(2) + " %";
  }
  return labels;
}

function showModelInfo() {
  const option = $("model").selectedOptions[0];
  $("model-info").textContent = option ? option.dataset.info || "" : "";
}

function renderBars(probabilities, chosen) {
  const bars = $("bars");
  bars.replaceChildren();
  for (const [label, p] of Object.entries(probabilities)) {
    const row = document.createElement("div");
    row.className = "bar" + (label === String(chosen) ? " chosen" : "");
    row.dataset.label = label;
    const name = document.createElement("span");
    name.textContent = label;
    const track = document.createElement("div");
    track.className = "track";
    track.setAttribute("role", "meter");
    track.setAttribute("aria-valuemin", "0");
    track.setAttribute("aria-valuemax", "1");
    track.setAttribute("aria-valuenow", p.toFixed(4));
    track.setAttribute("aria-label", "probability of " + label);
    const fill = document.createElement("div");
    fill.className = "fill";
    fill.style.width = (100 * p).toFixed(1) + "%";
    track.append(fill);
    const value = document.createElement("span");
    value.className = "value";
    value.textContent = (100 * p).toFixed(1) + " %";
    row.append(name, track, value);
    bars.append(row);
  }
}

// Red (pushes away from the explained label) to green (pushes towards it); strength is relative
// to the strongest word of the text.
function wordColour(contribution, scale) {
  const strength = Math.min(1, Math.abs(contribution) / scale);
  const hue = contribution >= 0 ? 130 : 2;
  return { background: "hsla(" + hue + ", 70%, 45%, " + (0.08 + 0.8 * strength).toFixed(3) + ")",
           light: strength > 0.55 };
}

function renderWords(explanation) {
  const box = $("words");
  box.replaceChildren();
  const scale = Math.max(1e-9, ...explanation.words.map((w) => Math.abs(w.contribution)));
  for (const w of explanation.words) {
    const span = document.createElement("span");
    span.className = "word" + (w.read ? "" : " unread");
    span.textContent = w.word;
    span.dataset.contribution = String(w.contribution);
    const colour = wordColour(w.contribution, scale);
    span.style.backgroundColor = colour.background;
    if (colour.light) span.style.color = "#fff";
    span.title = (w.contribution >= 0 ? "+" : "") + w.contribution.toFixed(4) + (w.known ? "" : " (unknown word)")
      + (w.read ? "" : " (not read: beyond the model's maxlen)");
    box.append(span, document.createTextNode(" "));
  }
  $("legend").textContent = "green pushes towards \u201c" + explanation.explained_label + "\u201d, red away from it "
    + "(P(" + explanation.explained_label + ") = " + explanation.probability.toFixed(3) + "; hover a word for its contribution)";
}

async function classify(event) {
  event.preventDefault();
  const text = $("text").value;
  const model = $("model").value || undefined;
  if (!text.trim()) { setStatus("Type a review first.", true); return; }
  apiKey = $("api-key").value.trim();
  $("submit").disabled = true;
  setStatus("Asking the model\u2026");
  try {
    const [prediction, explanation] = await Promise.all([
      call("POST", "/v1/predict", { texts: [text], model }),
      call("POST", "/v1/explain", { text, model }).catch((exc) => exc),
    ]);
    const result = prediction.results[0];
    $("label").textContent = String(result.label);
    $("label").dataset.label = String(result.label);
    $("score").textContent = "(" + (100 * result.score).toFixed(1) + " %, model " + prediction.model + ")";
    $("warning").hidden = !result.warning;
    $("warning").textContent = result.warning || "";
    renderBars(result.probabilities, result.label);
    if (explanation instanceof Error) {
      $("words").replaceChildren(document.createTextNode(explainError(explanation)));
      $("legend").textContent = "";
    } else {
      renderWords(explanation);
    }
    $("result").hidden = false;
    setStatus("");
    if ($("model").value === "") loadModels();
  } catch (exc) {
    setStatus(explainError(exc), true);
  } finally {
    $("submit").disabled = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("form").addEventListener("submit", classify);
  $("model").addEventListener("change", showModelInfo);
  $("api-key").addEventListener("change", () => { apiKey = $("api-key").value.trim(); loadModels(); });
  $("text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) $("form").requestSubmit();
  });
  for (const button of document.querySelectorAll(".example")) {
    button.addEventListener("click", () => { $("text").value = button.textContent; $("text").focus(); });
  }
  loadModels();
});
