// The documentation page of the JSON API: lists the operations of openapi.json.
// Builds the page with DOM nodes and textContent only (no HTML from the document).
"use strict";

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function refName(schema) {
  if (!schema) return "";
  if (schema.$ref) return schema.$ref.split("/").pop();
  if (schema.anyOf) return schema.anyOf.map(refName).join(" | ");
  if (schema.type === "array") return refName(schema.items) + "[]";
  if (schema.enum) return schema.enum.join(" | ");
  return schema.type || "";
}

function parameters(op) {
  const params = op.parameters || [];
  if (params.length === 0) return null;
  const table = el("table");
  const head = el("tr");
  ["parameter", "in", "type", "description"].forEach((h) => head.appendChild(el("th", h)));
  table.appendChild(head);
  params.forEach((p) => {
    const row = el("tr");
    row.appendChild(el("td", p.name + (p.required ? " *" : "")));
    row.appendChild(el("td", p.in));
    row.appendChild(el("td", refName(p.schema)));
    row.appendChild(el("td", p.description || (p.schema && p.schema.description) || ""));
    table.appendChild(row);
  });
  return table;
}

function responses(op) {
  const table = el("table");
  const head = el("tr");
  ["status", "media type", "schema", "description"].forEach((h) => head.appendChild(el("th", h)));
  table.appendChild(head);
  Object.entries(op.responses || {}).forEach(([status, answer]) => {
    const content = answer.content || {};
    const types = Object.keys(content);
    const row = el("tr");
    row.appendChild(el("td", status));
    row.appendChild(el("td", types.join(", ")));
    row.appendChild(el("td", types.map((t) => refName(content[t].schema)).join(", ")));
    row.appendChild(el("td", answer.description || ""));
    table.appendChild(row);
  });
  return table;
}

function render(doc) {
  const main = document.getElementById("operations");
  main.replaceChildren();
  document.getElementById("title").textContent = doc.info.title + " (version " + doc.info.version + ")";
  const base = (doc.servers && doc.servers[0] && doc.servers[0].url) || "";
  Object.entries(doc.paths || {}).forEach(([path, operations]) => {
    Object.entries(operations).forEach(([method, op]) => {
      const section = el("section", null, "op");
      const title = el("h2");
      title.appendChild(el("span", method, "method " + method));
      title.appendChild(el("code", base + path));
      section.appendChild(title);
      section.appendChild(el("p", op.summary || ""));
      if (op.description) section.appendChild(el("p", op.description));
      const params = parameters(op);
      if (params) section.appendChild(params);
      section.appendChild(responses(op));
      main.appendChild(section);
    });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  fetch("openapi.json", { headers: { Accept: "application/json" } })
    .then((answer) => {
      if (!answer.ok) throw new Error("openapi.json: HTTP " + answer.status);
      return answer.json();
    })
    .then(render)
    .catch((error) => {
      const main = document.getElementById("operations");
      main.replaceChildren(el("p", String(error)));
    });
});
