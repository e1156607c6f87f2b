// ml ui: the little the pages do in the browser. No library; every page works
// without this script except the live status, the heatmap button and "Try it".
"use strict";

const csrf = document.querySelector('meta[name="csrf-token"]').content;

// The error text of a failed answer: JSON {"error"}, our error page, or the status.
async function errorText(response) {
  const text = await response.text();
  try { return JSON.parse(text).error || text; } catch (e) { /* not JSON */ }
  const page = new DOMParser().parseFromString(text, "text/html");
  const box = page.querySelector(".message.error");
  const found = box ? box.textContent : page.body ? page.body.textContent.trim() : "";
  return found || `HTTP ${response.status} ${response.statusText}`;
}

// A run's status, every 2 s while it trains; the page reloads once it ends.
function liveStatus() {
  const status = document.getElementById("status");
  if (!status || status.dataset.status !== "running") return;
  const timer = setInterval(async () => {
    let body;
    try { body = await (await fetch(status.dataset.url, {cache: "no-store"})).json(); }
    catch (e) { return; }  // the server restarting: try again next tick
    document.getElementById("epoch").textContent = body.epoch_text;
    if (body.epochs_done !== Number(status.dataset.epochs)) {
      status.dataset.epochs = body.epochs_done;
      for (const img of document.querySelectorAll("img[data-live]")) {
        const url = new URL(img.src);
        url.searchParams.set("t", Date.now());
        img.src = url.toString();
      }
    }
    if (body.status !== "running") { clearInterval(timer); location.reload(); }
  }, 2000);
}

// Heatmap buttons: fetch the PNG (the model loads on first use), then show it.
function heatmapButtons() {
  for (const button of document.querySelectorAll("button[data-heatmap]")) {
    button.addEventListener("click", async () => {
      const target = document.getElementById(button.dataset.target);
      const note = document.getElementById("heatmap-status");
      button.disabled = true;
      note.textContent = "Drawing the heatmap (loading the model the first time) ...";
      const response = await fetch(button.dataset.heatmap);
      if (response.ok) {
        target.src = URL.createObjectURL(await response.blob());
        target.hidden = false;
        note.textContent = "";
      } else {
        note.textContent = await errorText(response);
        button.disabled = false;
      }
    });
  }
}

// Review actions: saved as soon as they are chosen (the Save button does it without script).
function reviewForms() {
  for (const form of document.querySelectorAll("form.review")) {
    const select = form.querySelector("select");
    select.addEventListener("change", async () => {
      const response = await fetch(form.getAttribute("action"), {method: "POST", body: new URLSearchParams(new FormData(form)),
        headers: {"Accept": "application/json", "X-CSRF-Token": csrf}});
      const note = form.querySelector(".saved") || form.appendChild(document.createElement("span"));
      note.className = "saved";
      note.setAttribute("role", "status");
      note.textContent = response.ok ? " saved" : " " + await errorText(response);
    });
  }
}

function post(run, route, file) {
  const data = new FormData();
  data.append("files", file, file.name);
  return fetch(`/run/${encodeURIComponent(run)}/${route}`, {method: "POST", body: data,
    headers: {"Accept": "application/json", "X-CSRF-Token": csrf}});
}

function resultCard(file) {
  const card = document.createElement("div");
  card.className = "result";
  const img = document.createElement("img");
  img.src = URL.createObjectURL(file);
  img.alt = `uploaded image ${file.name}`;
  const title = document.createElement("h2");
  title.textContent = file.name;
  card.append(title, img);
  return card;
}

function showPrediction(card, result) {
  const list = document.createElement("ol");
  list.className = "labels";
  for (const p of result.prediction) {
    const item = document.createElement("li");
    item.textContent = `${p.label} ${(100 * p.probability).toFixed(1)}%`;
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.style.width = `${Math.round(120 * p.probability)}px`;
    item.append(bar);
    list.append(item);
  }
  card.append(list);
  if (result.unknown !== undefined) {
    const flag = document.createElement("p");
    flag.className = result.unknown ? "unknown" : "known";
    flag.textContent = result.unknown
      ? `unknown: unlike the training images (score ${result.ood_score.toFixed(3)} over ${result.threshold.toFixed(3)})`
      : `like the training images (score ${result.ood_score.toFixed(3)}, threshold ${result.threshold.toFixed(3)})`;
    card.append(flag);
  }
}

function heatmapButton(card, run, file) {
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = "Show what it looked at";
  button.addEventListener("click", async () => {
    button.disabled = true;
    const response = await post(run, "explain", file);
    if (!response.ok) { button.replaceWith(await errorText(response)); return; }
    const img = document.createElement("img");
    img.src = URL.createObjectURL(await response.blob());
    img.alt = `heatmap of the prediction over ${file.name}`;
    button.replaceWith(img);
  });
  card.append(button);
}

async function classify(files) {
  const run = document.getElementById("try-run").value;
  const results = document.getElementById("try-results");
  const status = document.getElementById("try-status");
  const limit = Number(document.getElementById("try").dataset.maxMb) * 1024 * 1024;
  status.textContent = `Classifying ${files.length} image(s) with @${run} ...`;
  for (const file of files) {
    const card = resultCard(file);
    results.prepend(card);
    const error = document.createElement("p");
    error.className = "message error";
    error.setAttribute("role", "alert");
    if (file.size > limit) {
      error.textContent = `${file.name} is larger than the ${limit / 1048576} MB upload limit`;
      card.querySelector("img").remove();
      card.append(error);
      continue;
    }
    const response = await post(run, "predict", file);
    if (!response.ok) {
      error.textContent = await errorText(response);
      card.querySelector("img").remove();  // not an image the browser can show either
      card.append(error);
      continue;
    }
    const [result] = await response.json();
    showPrediction(card, result);
    heatmapButton(card, run, file);
  }
  status.textContent = `Done: ${files.length} image(s) with @${run}.`;
}

function tryPage() {
  const drop = document.getElementById("drop");
  if (!drop) return;
  const input = document.getElementById("try-files");
  input.addEventListener("change", () => { classify([...input.files]); input.value = ""; });
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    classify([...event.dataTransfer.files]);
  });
}

liveStatus();
heatmapButtons();
reviewForms();
tryPage();
