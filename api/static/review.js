// Review page: keys 1–7 choose the category of the item shown, Enter confirms it (saved without a
// page load); the table view's "select all" and selection count. Without JavaScript the forms
// still post and the server redirects back.
"use strict";
(function () {
  const deck = document.getElementById("deck");
  const errorBox = document.getElementById("review-error");
  const progress = document.getElementById("progress");
  const bar = document.getElementById("progress-bar");
  let busy = false;

  function showError(message) {
    if (!errorBox) return;
    errorBox.textContent = message;
    errorBox.hidden = !message;
  }

  function setProgress(p) {
    if (!p || !progress) return;
    progress.querySelector(".left").textContent = p.left;
    progress.querySelector(".total").textContent = p.total;
    if (bar) { bar.max = Math.max(p.total, 1); bar.value = p.confirmed; }
  }

  function current() { return deck ? deck.querySelector("form.review-card:not([hidden])") : null; }

  async function submit(card) {
    if (busy) return;
    busy = true;
    const button = card.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const res = await fetch(card.action, {method: "POST", body: new FormData(card), credentials: "same-origin",
                                            headers: {"Accept": "application/json"}});
      const body = await res.json().catch(() => ({}));
      if (!res.ok) {
        showError(body.message || ("Could not save this decision (HTTP " + res.status + ")."));
        button.disabled = false;
        return;
      }
      showError("");
      setProgress(body.progress);
      const next = card.nextElementSibling;
      card.remove();
      if (next && next.matches("form.review-card")) {
        next.hidden = false;
        next.focus();
      } else {
        window.location.reload();  // the next page of the queue
      }
    } catch (err) {
      showError("Network error: " + err.message + ". Nothing was saved; try again.");
      button.disabled = false;
    } finally {
      busy = false;
    }
  }

  if (deck) {
    deck.addEventListener("submit", (ev) => { ev.preventDefault(); submit(ev.target); });
    document.addEventListener("keydown", (ev) => {
      if (ev.altKey || ev.ctrlKey || ev.metaKey || ev.isComposing) return;
      const t = ev.target;
      if (t.matches("input[type=text], input[type=url], input[type=password], textarea, select")) return;
      const card = current();
      if (!card) return;
      if (ev.key >= "1" && ev.key <= "7") {
        const radio = card.querySelectorAll("input[name=category]")[Number(ev.key) - 1];
        if (radio) { radio.checked = true; ev.preventDefault(); }
      } else if (ev.key === "Enter") {
        if (t.matches("button, a, summary") || (t !== document.body && !card.contains(t) && t.id !== "main")) return;
        ev.preventDefault();
        submit(card);
      }
    });
    const first = current();
    if (first) first.focus({preventScroll: true});  // keys work at once; the progress stays in view
  }

  const all = document.getElementById("select-all");
  const count = document.getElementById("n-selected");
  const boxes = () => Array.from(document.querySelectorAll("#bulk input[name=ids]"));
  const recount = () => { if (count) count.textContent = boxes().filter((b) => b.checked).length; };
  if (all) {
    all.addEventListener("change", () => { boxes().forEach((b) => { b.checked = all.checked; }); recount(); });
    document.getElementById("bulk").addEventListener("change", recount);
    recount();
  }
})();
