// Passerelle console: progressive enhancements only; every page works without them.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // copy buttons: <button data-copy="element-id">
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.addEventListener("click", async (event) => {
      event.preventDefault();
      const source = document.getElementById(button.dataset.copy);
      if (!source) return;
      try {
        await navigator.clipboard.writeText(source.textContent);
        button.dataset.done = "1";
      } catch (_) {
        const range = document.createRange();
        range.selectNodeContents(source);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
      }
    });
  }
  // forms that ask before doing something that cannot be undone: <form data-confirm="...">
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
});

// a form posted once: a second click while the first post is on its way does nothing
// (no second charge or credit from a double click)
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || form.method.toLowerCase() !== "post") return;
  if (event.defaultPrevented) return;
  if (form.dataset.sent === "1") {
    event.preventDefault();
    return;
  }
  form.dataset.sent = "1";
  window.setTimeout(() => { delete form.dataset.sent; }, 5000);
});
