// The API's documentation without Swagger UI: every operation of /openapi.json with its parameters,
// request body fields and responses. Text only through textContent (descriptions are not trusted HTML);
// `code` and ``code`` spans of the descriptions become <code>. document.body.dataset.docs: loading | ready | error.

"use strict";

const $ = (id) => document.getElementById(id);

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function prose(text) {
  // paragraphs at blank lines; `code` (or ``code``) as <code>
  const fragment = document.createDocumentFragment();
  for (const paragraph of (text || "").split(/\n\s*\n/)) {
    if (!paragraph.trim()) continue;
    const p = element("p");
    paragraph.split(/(``[^`]+``|`[^`]+`)/).forEach((piece) => {
      const code = piece.match(/^(`+)([^`]+)\1$/);
      if (code) p.append(element("code", "", code[2]));
      else p.append(piece.replace(/\s*\n\s*/g, " "));
    });
    fragment.append(p);
  }
  return fragment;
}

function resolve(spec, schema) {
  // follow a local $ref (#/components/schemas/Name)
  while (schema && schema.$ref) {
    schema = schema.$ref.replace(/^#\//, "").split("/").reduce((node, key) => node && node[key], spec);
  }
  return schema || {};
}

function typeOf(spec, schema) {
  schema = resolve(spec, schema);
  if (schema.anyOf) return schema.anyOf.map((s) => typeOf(spec, s)).join(" | ");
  if (schema.type === "array") return `${typeOf(spec, schema.items)}[]`;
  if (schema.format === "binary" || schema.contentMediaType) return "file";
  return schema.type || schema.title || "any";
}

function fieldTable(rows) {
  // rows: [name, where or type, required, description]
  const table = element("table", "fields");
  for (const [name, kind, required, description] of rows) {
    const tr = element("tr");
    tr.append(element("td", "name", name), element("td", "kind", kind), element("td", "required", required ? "required" : ""));
    const td = element("td");
    td.append(prose(description));
    tr.append(td);
    table.append(tr);
  }
  return table;
}

function operation(spec, path, method, op) {
  const section = element("section", "operation");
  section.id = `${method}-${path}`;
  const head = element("div", "section-head");
  head.append(element("span", `method ${method}`, method.toUpperCase()), element("code", "path", path));
  if (op.summary) head.append(element("span", "muted", op.summary));
  section.append(head);
  if (op.description) section.append(prose(op.description));
  const parameters = (op.parameters || []).map((p) => [p.name, `${p.in}, ${typeOf(spec, p.schema)}`, p.required, p.description]);
  if (parameters.length) section.append(element("h3", "", "Parameters"), fieldTable(parameters));
  const content = (op.requestBody && op.requestBody.content) || {};
  for (const [mediaType, body] of Object.entries(content)) {
    const schema = resolve(spec, body.schema);
    const required = new Set(schema.required || []);
    const rows = Object.entries(schema.properties || {}).map(([name, field]) => {
      const resolved = resolve(spec, field);
      const fallback = resolved.default !== undefined ? `default: ${JSON.stringify(resolved.default)}` : "";
      return [name, typeOf(spec, field), required.has(name), resolved.description || fallback];
    });
    section.append(element("h3", "", `Request body (${mediaType})`), fieldTable(rows));
  }
  const responses = Object.entries(op.responses || {}).map(([code, r]) => [code, "", false, r.description]);
  if (responses.length) section.append(element("h3", "", "Responses"), fieldTable(responses));
  return section;
}

async function render() {
  try {
    const response = await fetch("/openapi.json");
    if (!response.ok) throw new Error(`/openapi.json answered ${response.status}`);
    const spec = await response.json();
    document.title = `${spec.info.title} API`;
    $("title").textContent = `${spec.info.title} API`;
    $("version").textContent = `version ${spec.info.version} · OpenAPI ${spec.openapi}`;
    $("description").append(prose(spec.info.description));
    const operations = $("operations");
    for (const [path, methods] of Object.entries(spec.paths || {})) {
      for (const [method, op] of Object.entries(methods)) operations.append(operation(spec, path, method, op));
    }
    document.body.dataset.docs = "ready";
  } catch (error) {
    $("operations").append(element("p", "error", `cannot show the API: ${error.message || error}`));
    document.body.dataset.docs = "error";
  }
}

window.addEventListener("DOMContentLoaded", render);
