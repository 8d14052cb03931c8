// Aviary's dashboard script: served from the daemon, no inline code anywhere (the CSP forbids it).
// - [data-live=SECONDS]: re-read from this page's URL every SECONDS and swapped in place.
// - [data-post] buttons and forms: POST to the API with the server token (asked once, kept for
//   this tab in sessionStorage), the answer shown in the next <output>.
// - [data-compare-slider]: how much of the baseline covers the current screenshot.
"use strict";

const TOKEN_KEY = "aviary-token";

function liveRegions() {
  const regions = document.querySelectorAll("[data-live][id]");
  if (regions.length === 0) return;
  const seconds = Math.max(5, Number(regions[0].dataset.live) || 15);
  setInterval(async () => {
    if (document.hidden) return;
    try {
      const response = await fetch(location.href, { headers: { Accept: "text/html" } });
      if (!response.ok) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      for (const region of document.querySelectorAll("[data-live][id]")) {
        const replacement = fresh.getElementById(region.id);
        if (replacement) region.replaceWith(document.importNode(replacement, true));
      }
    } catch (_) {
      // The daemon may be restarting: try again at the next tick.
    }
  }, seconds * 1000);
}

function token(askAgain) {
  let value = sessionStorage.getItem(TOKEN_KEY);
  if (!value || askAgain) {
    value = window.prompt("The server token (server.token in aviary.yaml):") || "";
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
  }
  return value;
}

async function post(url, body, output) {
  output.textContent = "…";
  output.classList.remove("bad");
  for (let attempt = 0; attempt < 2; attempt++) {
    const secret = token(attempt > 0);
    if (!secret) {
      output.textContent = "Not sent: this needs the server token.";
      output.classList.add("bad");
      return false;
    }
    const response = await fetch(url, {
      method: "POST",
      headers: { Authorization: "Bearer " + secret, "Content-Type": "application/json" },
      body: JSON.stringify(body || {}),
    });
    if (response.status === 401 || response.status === 403) {
      sessionStorage.removeItem(TOKEN_KEY);
      if (attempt === 0) continue;
    }
    let message = response.statusText;
    try {
      const json = await response.json();
      message = json.error || message;
    } catch (_) {}
    if (response.ok) return true;
    output.textContent = "Refused (" + response.status + "): " + message;
    output.classList.add("bad");
    return false;
  }
  return false;
}

function outputFor(element) {
  return element.querySelector("output") || element.parentElement.querySelector("output");
}

function actions() {
  for (const button of document.querySelectorAll("button[data-post]")) {
    button.addEventListener("click", async () => {
      const output = outputFor(button);
      button.disabled = true;
      try {
        if (await post(button.dataset.post, {}, output)) output.textContent = button.dataset.done || "Done.";
      } finally {
        button.disabled = false;
      }
    });
  }
  for (const form of document.querySelectorAll("form[data-post]")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const output = outputFor(form);
      const body = Object.fromEntries(new FormData(form).entries());
      if (await post(form.dataset.post, body, output)) {
        output.textContent = form.dataset.done || "Done.";
        setTimeout(() => location.reload(), 800);
      }
    });
  }
}

function compareSliders() {
  for (const slider of document.querySelectorAll("[data-compare-slider]")) {
    const section = slider.closest("section") || document;
    const frame = section.querySelector("[data-compare]");
    if (!frame) continue;
    const top = frame.querySelector(".compare-top");
    const topImage = top.querySelector("img");
    const fit = () => {
      topImage.style.width = frame.clientWidth + "px";
      top.style.width = slider.value + "%";
    };
    slider.addEventListener("input", fit);
    window.addEventListener("resize", fit);
    frame.querySelector("img").addEventListener("load", fit);
    fit();
  }
}

document.addEventListener("DOMContentLoaded", () => {
  liveRegions();
  actions();
  compareSliders();
});
