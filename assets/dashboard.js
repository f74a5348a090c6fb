// The dashboard: selectors from /api/schema, a query per change, the chart
// drawn by the server, and the cache's statistics after every answer.
"use strict";

const params = new URLSearchParams(location.search);
// The token comes in the address's fragment (/#token=...), which browsers
// never send to a server, so it stays out of access logs; `?token=` works
// too. Either way it moves to session storage and leaves the address bar.
const token = (() => {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  const search = new URLSearchParams(location.search);
  const fromQuery = search.get("token");
  params.delete("token");
  const given = fromHash || fromQuery;
  if (given) {
    sessionStorage.setItem("pqc-token", given);
    search.delete("token");
    const rest = search.toString();
    history.replaceState(null, "", location.pathname + (rest ? "?" + rest : ""));
  }
  return given || sessionStorage.getItem("pqc-token");
})();
const authHeaders = token ? { Authorization: "Bearer " + token } : {};
let layout = null;
let updates = 0;
let pending = 0;

async function api(path, body) {
  const options = body === undefined
    ? { headers: authHeaders }
    : { method: "POST", headers: { ...authHeaders, "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const response = await fetch(path, options);
  if (!response.ok) {
    let message = response.statusText;
    try { message = (await response.json()).error; } catch (_) { /* not JSON */ }
    throw new Error(message);
  }
  return response;
}

function option(select, value, text) {
  const o = document.createElement("option");
  o.value = value;
  o.textContent = text;
  select.appendChild(o);
}

function buildControls(schema) {
  layout = schema.dashboard;
  document.getElementById("dataset").textContent =
    schema.rows.toLocaleString() + " rows, fingerprint " + schema.fingerprint.slice(0, 12);
  const filters = document.getElementById("filters");
  for (const name of layout.filters) {
    const column = schema.columns.find((c) => c.name === name);
    const label = document.createElement("label");
    label.textContent = name + " ";
    const select = document.createElement("select");
    select.id = "filter-" + name;
    select.dataset.column = name;
    select.dataset.type = column.type;
    option(select, "", "All");
    for (const v of column.values || []) option(select, String(v), String(v));
    if (params.has(name)) select.value = params.get(name);
    select.addEventListener("change", update);
    label.appendChild(select);
    filters.appendChild(label);
  }
  const measure = document.getElementById("measure");
  layout.measures.forEach((m, i) => option(measure, String(i), m.label));
  if (params.has("measure")) measure.value = params.get("measure");
  measure.addEventListener("change", update);
}

function currentQuery() {
  const filters = {};
  for (const select of document.querySelectorAll("#filters select")) {
    if (select.value === "") continue;
    filters[select.dataset.column] = select.dataset.type === "int" ? Number(select.value) : select.value;
  }
  const m = layout.measures[Number(document.getElementById("measure").value)];
  const agg = { fn: m.fn, alias: m.label };
  if (m.column) agg.column = m.column;
  return { filters, group_by: layout.x ? [layout.x] : [], aggs: [agg] };
}

function renderTable(result) {
  const table = document.getElementById("table");
  const head = document.createElement("tr");
  for (const c of result.columns) {
    const th = document.createElement("th");
    th.textContent = c;
    head.appendChild(th);
  }
  table.tHead.replaceChildren(head);
  const rows = result.rows.map((row) => {
    const tr = document.createElement("tr");
    for (const cell of row) {
      const td = document.createElement("td");
      if (typeof cell === "number") {
        td.className = "num";
        td.textContent = Number.isInteger(cell) ? String(cell) : cell.toFixed(2);
      } else {
        td.textContent = cell === null ? "null" : String(cell);
      }
      tr.appendChild(td);
    }
    return tr;
  });
  table.tBodies[0].replaceChildren(...rows);
}

function renderStats(stats) {
  const set = (id, text) => { document.getElementById(id).textContent = text; };
  set("stat-ratio", (100 * stats.hit_ratio).toFixed(1) + " %");
  set("stat-hits", stats.hits + " (" + stats.memory_hits + ")");
  set("stat-misses", String(stats.misses));
  set("stat-computations", String(stats.computations));
  set("stat-entries", String(stats.entries));
  set("stat-bytes", (stats.bytes / 1024).toFixed(1) + " KiB");
  set("stat-saved", (stats.time_saved_us / 1000).toFixed(1) + " ms");
}

async function update() {
  const status = document.getElementById("status");
  const query = currentQuery();
  pending += 1;
  status.textContent = "";
  try {
    const started = performance.now();
    const result = await (await api("/api/query", query)).json();
    const roundTrip = performance.now() - started;
    renderTable(result);
    const source = document.getElementById("last-source");
    source.textContent = result.source;
    source.className = result.source;
    document.getElementById("last-latency").textContent =
      (result.elapsed_us / 1000).toFixed(3) + " ms server, " + roundTrip.toFixed(1) + " ms round trip";
    const svg = await (await api("/api/chart", query)).text();
    document.getElementById("chart").innerHTML = svg;
    renderStats(await (await api("/api/stats")).json());
  } catch (error) {
    status.textContent = error.message;
  } finally {
    pending -= 1;
    updates += 1;
    document.body.dataset.updates = String(updates);
    document.body.dataset.busy = String(pending > 0);
  }
}

api("/api/schema")
  .then((r) => r.json())
  .then((schema) => { buildControls(schema); return update(); })
  .catch((error) => { document.getElementById("status").textContent = error.message; });
