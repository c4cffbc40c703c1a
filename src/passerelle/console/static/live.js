// Passerelle console: the states of the messages on the page, live (Server-Sent Events
// from /sms/live), and the header's balance. Without it the page still works: reload.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  if (!window.EventSource) return;
  const ids = [];
  for (const element of document.querySelectorAll("[data-msgid]")) {
    const msgid = element.dataset.msgid;
    if (/^\d{1,18}$/.test(msgid) && !ids.includes(msgid)) ids.push(msgid);
    if (ids.length >= 100) break;
  }
  if (ids.length === 0) return;
  const source = new EventSource("/sms/live?ids=" + ids.join(","));
  source.addEventListener("message", (event) => {
    let data;
    try { data = JSON.parse(event.data); } catch (_) { return; }
    const cells = document.querySelectorAll(".state[data-msgid='" + String(data.msgid) + "']");
    const byDest = new Map();
    for (const recipient of data.recipients || []) byDest.set(recipient.dest, recipient);
    for (const cell of cells) {
      const recipient = byDest.get(cell.dataset.dest);
      if (!recipient) continue;
      const state = Number(recipient.state);
      if (!Number.isInteger(state)) continue;
      cell.textContent = recipient.label;
      for (const name of Array.from(cell.classList)) {
        if (name.startsWith("state-")) cell.classList.remove(name);
      }
      cell.classList.add("state-" + state);
    }
  });
  source.addEventListener("balance", (event) => {
    let data;
    try { data = JSON.parse(event.data); } catch (_) { return; }
    const balance = document.getElementById("balance");
    if (balance && typeof data.text === "string") balance.textContent = data.text;
  });
  window.addEventListener("pagehide", () => source.close());
});
