// The dashboard: an explorer for any table. Its controls come from
// /api/schema (`dashboard` and `columns`); every change is one query for the
// table and one chart drawn by the server, then the cache's statistics. The
// view lives in the address (`f.col=a,b&r.col=lo..hi&x=..&s=..&m=..&a=..`),
// so it can be shared and the back button works; the token never goes there.
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
// Errors anywhere on the page are counted on <body data-errors> so a test
// (or a person) sees them without a console.
const pageErrors = [];
function noteError(message) {
  pageErrors.push(String(message));
  document.body.dataset.errors = String(pageErrors.length);
}
window.addEventListener("error", (e) => noteError(e.message));
window.addEventListener("unhandledrejection", (e) => noteError(e.reason && e.reason.message || e.reason));
const consoleError = console.error.bind(console);
console.error = (...args) => { noteError(args.join(" ")); consoleError(...args); };

let layout = null;
let columns = new Map();
let lenLabel = "rows";
let updates = 0;
let pending = 0;
let latest = 0;
let answer = null;
let sorting = null;

async function api(path, body, accept) {
  const headers = { ...authHeaders };
  if (accept) headers.Accept = accept;
  const options = body === undefined
    ? { headers }
    : { method: "POST", headers: { ...headers, "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const response = await fetch(path, options);
  if (!response.ok) {
    let message = response.statusText;
    try { message = (await response.json()).error; } catch (_) { /* not JSON */ }
    throw new Error(message);
  }
  return response;
}

function element(tag, props, ...children) {
  const e = document.createElement(tag);
  Object.assign(e, props);
  e.append(...children);
  return e;
}

function option(select, value, text) {
  select.appendChild(element("option", { value, textContent: text }));
}

const $ = (id) => document.getElementById(id);

// ---- The view: what is selected, to and from the address ----

// A list of values in one parameter: commas separate them, so a comma (and
// the percent sign escaping it) inside a value is escaped.
const escapeValue = (v) => String(v).replace(/%/g, "%25").replace(/,/g, "%2C");
const unescapeValue = (v) => v.replace(/%2C/gi, ",").replace(/%25/g, "%");

function defaultView() {
  const first = layout.measures[0];
  return {
    filters: {},
    ranges: {},
    x: layout.x || layout.dimensions[0] || "",
    s: "",
    m: first && first.column ? first.column : "",
    a: first ? first.fn : "len",
  };
}

function viewFromAddress(search) {
  const p = new URLSearchParams(search);
  const view = defaultView();
  for (const [key, raw] of p) {
    if (key.startsWith("f.") && layout.filters.includes(key.slice(2))) {
      const column = columns.get(key.slice(2));
      const wanted = raw.split(",").map(unescapeValue);
      const values = (column.values || []).filter((v) => wanted.includes(String(v)));
      if (values.length) view.filters[column.name] = values;
    } else if (key.startsWith("r.") && layout.ranges.some((r) => r.column === key.slice(2))) {
      const at = raw.indexOf("..");
      if (at < 0) continue;
      const form = inputForm(columns.get(key.slice(2)).type);
      const bounds = [raw.slice(0, at), raw.slice(at + 2)].map((b) => (form.test(b) ? b : ""));
      if (bounds[0] || bounds[1]) view.ranges[key.slice(2)] = bounds;
    }
  }
  if (p.has("x") && layout.dimensions.includes(p.get("x"))) view.x = p.get("x");
  if (p.has("s") && layout.dimensions.includes(p.get("s")) && p.get("s") !== view.x) view.s = p.get("s");
  if (p.get("a") === "len") {
    view.m = "";
    view.a = "len";
  } else if (p.has("m") && measureColumns().includes(p.get("m"))) {
    view.m = p.get("m");
    view.a = layout.aggregates.includes(p.get("a")) ? p.get("a") : defaultAggregate(view.m);
  }
  return view;
}

function address(view) {
  const parts = [];
  const add = (key, value) => parts.push(encodeURIComponent(key) + "=" + encodeURIComponent(value).replace(/%2C/g, ","));
  for (const [name, values] of Object.entries(view.filters)) add("f." + name, values.map(escapeValue).join(","));
  for (const [name, [lo, hi]] of Object.entries(view.ranges)) add("r." + name, lo + ".." + hi);
  if (view.x) add("x", view.x);
  if (view.s) add("s", view.s);
  if (view.m) add("m", view.m);
  add("a", view.a);
  return location.pathname + "?" + parts.join("&");
}

// ---- Controls ----

function measureColumns() {
  const names = [];
  for (const m of layout.measures) if (m.column && !names.includes(m.column)) names.push(m.column);
  return names;
}

function defaultAggregate(column) {
  const m = layout.measures.find((m) => m.column === column);
  return m ? m.fn : "sum";
}

function buildControls(schema) {
  layout = schema.dashboard;
  columns = new Map(schema.columns.map((c) => [c.name, c]));
  const len = layout.measures.find((m) => m.fn === "len");
  if (len) lenLabel = len.label;
  if (layout.title) {
    $("title").textContent = layout.title;
    document.title = layout.title;
  }
  $("dataset").textContent =
    schema.rows.toLocaleString() + " rows, fingerprint " + schema.fingerprint.slice(0, 12);

  const filters = $("filters");
  for (const name of layout.filters) {
    const column = columns.get(name);
    const box = element("fieldset", { className: "filter", id: "filter-" + name });
    box.dataset.column = name;
    box.appendChild(element("legend", { textContent: name }));
    const list = element("div", { className: "values" });
    (column.values || []).forEach((v, i) => {
      const input = element("input", { type: "checkbox", value: String(v) });
      input.dataset.index = String(i);
      input.addEventListener("change", changed);
      list.appendChild(element("label", {}, input, " " + String(v)));
    });
    box.appendChild(list);
    filters.appendChild(box);
  }

  const ranges = $("ranges");
  for (const range of layout.ranges) {
    const column = columns.get(range.column);
    const type = inputType(column.type);
    if (!type) continue;
    // A datetime-local input takes "2013-01-01T05:00:00", without the
    // fraction the column's text has.
    const shown = (bound) => (type === "datetime-local" ? String(bound).replace(" ", "T").slice(0, 19) : String(bound));
    const input = (side, bound) => {
      const i = element("input", { type, min: shown(range.min), max: shown(range.max), placeholder: shown(bound) });
      if (type === "number") i.step = "any";
      if (type === "datetime-local") i.step = "1";
      i.className = side;
      i.setAttribute("aria-label", range.column + " " + side);
      i.addEventListener("change", changed);
      return i;
    };
    // Times in a column with a time zone are read as UTC (the page knows
    // no zone rules); the label says so.
    const zoned = type === "datetime-local" && /,\s*[^\]\s]/.test(column.dtype);
    const box = element("div", { className: "range", id: "range-" + range.column },
      element("span", { className: "name", textContent: range.column + (zoned ? " (UTC)" : "") }),
      input("min", range.min), "\u2013", input("max", range.max));
    box.dataset.column = range.column;
    box.dataset.type = type;
    if (zoned) box.dataset.zoned = "true";
    ranges.appendChild(box);
  }

  const dimension = $("dimension");
  for (const d of layout.dimensions) option(dimension, d, d);
  if (!layout.dimensions.length) option(dimension, "", "nothing");
  const series = $("series");
  option(series, "", "none");
  for (const d of layout.dimensions) option(series, d, d);
  const measure = $("measure-column");
  for (const c of measureColumns()) option(measure, c, c);
  option(measure, "", "rows");
  const fn = $("measure-fn");
  for (const a of layout.aggregates) option(fn, a, a);
  option(fn, "len", "len");
  for (const id of ["dimension", "series", "measure-column", "measure-fn"]) $(id).addEventListener("change", changed);
}

// On a phone the filters fold away under their summary, so the chart is
// on the first screen; wider, they are open.
const phone = matchMedia("(max-width: 760px)");
const foldFilters = () => { $("filter-panel").open = !phone.matches; };
phone.addEventListener("change", foldFilters);

function showView(view) {
  const active = Object.keys(view.filters).length + Object.keys(view.ranges).length;
  $("filter-count").textContent = active ? "(" + active + " active)" : "";
  for (const box of document.querySelectorAll("#filters fieldset")) {
    const chosen = (view.filters[box.dataset.column] || []).map(String);
    for (const input of box.querySelectorAll("input")) input.checked = chosen.includes(input.value);
  }
  for (const box of document.querySelectorAll("#ranges .range")) {
    const [lo, hi] = view.ranges[box.dataset.column] || ["", ""];
    box.querySelector(".min").value = lo;
    box.querySelector(".max").value = hi;
  }
  $("dimension").value = view.x;
  $("series").value = view.s;
  for (const o of $("series").options) o.disabled = o.value !== "" && o.value === view.x;
  $("measure-column").value = view.m;
  $("measure-fn").value = view.a;
  for (const o of $("measure-fn").options) o.disabled = view.m ? o.value === "len" : o.value !== "len";
}

function viewOfControls(changedId) {
  const view = defaultView();
  view.filters = {};
  for (const box of document.querySelectorAll("#filters fieldset")) {
    const values = columns.get(box.dataset.column).values || [];
    const chosen = [...box.querySelectorAll("input:checked")].map((i) => values[Number(i.dataset.index)]);
    if (chosen.length) view.filters[box.dataset.column] = chosen;
  }
  view.ranges = {};
  for (const box of document.querySelectorAll("#ranges .range")) {
    const lo = box.querySelector(".min").value;
    const hi = box.querySelector(".max").value;
    if (lo || hi) view.ranges[box.dataset.column] = [lo, hi];
  }
  view.x = $("dimension").value;
  view.s = $("series").value === view.x ? "" : $("series").value;
  view.m = $("measure-column").value;
  view.a = $("measure-fn").value;
  if (changedId === "measure-column") view.a = view.m ? defaultAggregate(view.m) : "len";
  if (view.m && view.a === "len") view.a = defaultAggregate(view.m);
  if (!view.m) view.a = "len";
  return view;
}

function label(view) {
  if (!view.m) return lenLabel;
  const declared = layout.measures.find((m) => m.column === view.m && m.fn === view.a);
  return declared ? declared.label : view.m + " (" + view.a + ")";
}

/** The input that edits a column of this schema type, if any. */
function inputType(type) {
  if (type === "date") return "date";
  if (type === "datetime") return "datetime-local";
  return ["int", "float"].includes(type) ? "number" : null;
}

/** What a bound of this schema type looks like in the address. */
function inputForm(type) {
  if (type === "date") return /^\d{4}-\d{2}-\d{2}$/;
  if (type === "datetime") return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/;
  return { test: (b) => b !== "" && Number.isFinite(Number(b)) };
}

function rangeValue(box, text) {
  const type = box ? box.dataset.type : "number";
  if (type === "number") return Number(text);
  return box && box.dataset.zoned ? text + "Z" : text;
}

function queryOf(view) {
  const filters = [];
  for (const [column, values] of Object.entries(view.filters)) filters.push({ column, op: "in", value: values });
  for (const [column, [lo, hi]] of Object.entries(view.ranges)) {
    const box = $("range-" + column);
    if (lo && hi) filters.push({ column, op: "between", value: [rangeValue(box, lo), rangeValue(box, hi)] });
    else if (lo) filters.push({ column, op: "ge", value: rangeValue(box, lo) });
    else if (hi) filters.push({ column, op: "le", value: rangeValue(box, hi) });
  }
  const group_by = [view.x, view.s].filter((c) => c);
  const agg = { fn: view.a, alias: label(view) };
  if (view.m) agg.column = view.m;
  return { filters, group_by, aggs: [agg] };
}

function chartPath(view) {
  const spec = formatSpec(view);
  return "/api/chart?kind=auto" + (view.s ? "&series=" + encodeURIComponent(view.s) : "")
    + (numberFormat(spec) ? "&format=" + encodeURIComponent(spec) : "");
}

function changed(event) {
  const view = viewOfControls(event.target.id);
  showView(view);
  history.pushState(null, "", address(view));
  update(view);
}

window.addEventListener("popstate", () => {
  if (!layout) return;
  const view = viewFromAddress(location.search);
  showView(view);
  update(view);
});

// ---- The answer ----

// A declared measure's `format`: a small subset of d3-format specs, drawn
// with Intl.NumberFormat (en-US): an optional `$` (US dollars), an optional
// `,` (group thousands), an optional `.N` precision (0 to 20; 6 when
// omitted, as in d3) and a type: `f` (N decimals), `%` (times 100, N
// decimals, a percent sign) or `d` (rounded to an integer, no precision).
// So `,.0f` 1,235  `,.2f` 1,234.57  `$,.0f` $1,235  `.1%` 12.3%  `,d` 1,235.
// Any other spec, or `$` with `%`, returns null: the numbers stay plain.
function numberFormat(spec) {
  const parts = /^(\$)?(,)?(?:\.(\d{1,2}))?([fd%])$/.exec(typeof spec === "string" ? spec : "");
  if (!parts) return null;
  const [, currency, grouped, precision, type] = parts;
  if ((currency && type === "%") || (type === "d" && precision !== undefined)) return null;
  const digits = type === "d" ? 0 : precision === undefined ? 6 : Number(precision);
  if (digits > 20) return null;
  const options = { useGrouping: Boolean(grouped), minimumFractionDigits: digits, maximumFractionDigits: digits };
  if (type === "%") options.style = "percent";
  if (currency) {
    options.style = "currency";
    options.currency = "USD";
  }
  // As d3, no minus sign on a number that rounds to zero (where the
  // browser knows `signDisplay: "negative"`).
  for (const extra of [{ signDisplay: "negative" }, {}]) {
    try {
      const format = new Intl.NumberFormat("en-US", { ...options, ...extra });
      return (n) => format.format(n);
    } catch (_) { /* try the next */ }
  }
  return null;
}

// The declared format spec of the measure `view` shows, if any.
function formatSpec(view) {
  const declared = view.m ? layout.measures.find((m) => m.column === view.m && m.fn === view.a)
    : layout.measures.find((m) => m.fn === "len");
  return (declared && declared.format) || null;
}

// The number format of each column of the answer to `view`: the declared
// measure's for its column, none for the others.
function columnFormats(view, columnNames) {
  const format = numberFormat(formatSpec(view));
  const name = label(view);
  return columnNames.map((c) => (format && c === name ? format : null));
}

function formatCell(cell, format) {
  if (typeof cell !== "number") return String(cell);
  if (format) return format(cell);
  if (Number.isInteger(cell)) return String(cell);
  return Math.abs(cell) >= 1 ? cell.toFixed(2) : cell.toPrecision(3);
}

function compareCells(a, b) {
  if (a === null || b === null) return a === b ? 0 : a === null ? 1 : -1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "boolean" && typeof b === "boolean") return Number(a) - Number(b);
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

function sortedRows() {
  const rows = answer.rows.slice();
  if (!sorting) return rows;
  const i = answer.columns.indexOf(sorting.column);
  if (i < 0) return rows;
  const sign = sorting.descending ? -1 : 1;
  return rows.sort((a, b) => {
    // Nulls stay last in either direction.
    if (a[i] === null || b[i] === null) return compareCells(a[i], b[i]);
    return sign * compareCells(a[i], b[i]);
  });
}

function renderTable() {
  const table = $("table");
  const formats = columnFormats(shown, answer.columns);
  const head = document.createElement("tr");
  for (const c of answer.columns) {
    const th = element("th", { textContent: c, scope: "col" });
    th.dataset.column = c;
    if (sorting && sorting.column === c) th.setAttribute("aria-sort", sorting.descending ? "descending" : "ascending");
    th.addEventListener("click", () => {
      sorting = { column: c, descending: sorting && sorting.column === c ? !sorting.descending : false };
      renderTable();
    });
    head.appendChild(th);
  }
  table.tHead.replaceChildren(head);
  const rows = sortedRows().map((row) => {
    const tr = document.createElement("tr");
    for (const [i, cell] of row.entries()) {
      const td = element("td", { textContent: cell === null ? "null" : formatCell(cell, formats[i]) });
      td.dataset.value = JSON.stringify(cell);
      if (cell === null) td.className = "null";
      else if (typeof cell === "number") td.className = "num";
      tr.appendChild(td);
    }
    return tr;
  });
  table.tBodies[0].replaceChildren(...rows);
}

function renderStats(stats) {
  const set = (id, text) => { $(id).textContent = text; };
  set("stat-ratio", (100 * stats.hit_ratio).toFixed(1) + " %");
  set("stat-hits", stats.hits + " (" + stats.memory_hits + ")");
  set("stat-misses", String(stats.misses));
  set("stat-computations", String(stats.computations));
  set("stat-entries", String(stats.entries));
  set("stat-bytes", (stats.bytes / 1024).toFixed(1) + " KiB");
  set("stat-saved", (stats.time_saved_us / 1000).toFixed(1) + " ms");
  ratios.push(stats.hit_ratio);
  if (ratios.length > RATIO_READINGS) ratios.shift();
  renderSparkline();
  renderTopQueries(stats.top_queries || []);
}

// ---- The cache panel: the last answers, the hit ratio over time, the
// most-hit queries ----

const RECENT = 10;
const RATIO_READINGS = 60;
const recent = [];
const ratios = [];

function noteAnswer(result, roundTrip) {
  recent.unshift({ source: result.source, server: result.elapsed_us / 1000, roundTrip });
  if (recent.length > RECENT) recent.pop();
  const items = recent.map((a) => {
    const source = element("span", { className: "source " + a.source, textContent: a.source });
    const li = element("li", {}, source, " " + a.server.toFixed(3) + " ms, " + a.roundTrip.toFixed(1) + " ms");
    li.dataset.source = a.source;
    li.title = a.server.toFixed(3) + " ms in the server, " + a.roundTrip.toFixed(1) + " ms round trip";
    return li;
  });
  $("recent").replaceChildren(...items);
}

// One point a reading of /api/stats (the cumulative hit ratio then), the
// oldest on the left, 0 at the bottom and 1 at the top.
function renderSparkline() {
  const svg = $("ratio-spark");
  const width = 100;
  const height = 24;
  const step = ratios.length > 1 ? width / (ratios.length - 1) : 0;
  const points = ratios.map((r, i) => (i * step).toFixed(2) + "," + (height - r * height).toFixed(2)).join(" ");
  const ns = "http://www.w3.org/2000/svg";
  const line = document.createElementNS(ns, ratios.length > 1 ? "polyline" : "circle");
  if (ratios.length > 1) line.setAttribute("points", points);
  else {
    line.setAttribute("cx", "0");
    line.setAttribute("cy", String(height - ratios[0] * height));
    line.setAttribute("r", "1.5");
  }
  line.setAttribute("class", "ratio");
  svg.replaceChildren(line);
  svg.dataset.readings = String(ratios.length);
  const first = (100 * ratios[0]).toFixed(0);
  const last = (100 * ratios[ratios.length - 1]).toFixed(0);
  svg.setAttribute("aria-label", "hit ratio over the last " + ratios.length + " readings: " + first + " % to " + last + " %");
}

// Each query as SQL that /api/sql answers from the same entry (a memoized
// function has none: its name then).
function renderTopQueries(top) {
  const items = top.slice(0, 5).map((q) => {
    const text = q.sql || q.query;
    const li = element("li", {},
      element("code", { textContent: text }),
      element("span", { className: "hits", textContent: q.hits + (q.hits === 1 ? " hit" : " hits") }));
    li.dataset.hits = String(q.hits);
    li.title = text;
    return li;
  });
  $("top-queries").replaceChildren(...items);
}

let shown = null;

async function update(view) {
  const status = $("status");
  const query = queryOf(view);
  const turn = ++latest;
  pending += 1;
  document.body.dataset.busy = "true";
  status.textContent = "";
  try {
    const started = performance.now();
    // One after the other: the chart's query is then a hit on the table's.
    const result = await (await api("/api/query", query)).json();
    const roundTrip = performance.now() - started;
    noteAnswer(result, roundTrip);
    const svg = await (await api(chartPath(view), query)).text();
    if (turn !== latest) return;
    shown = view;
    answer = result;
    renderTable();
    const source = $("last-source");
    source.textContent = result.source;
    source.className = result.source;
    $("last-latency").textContent =
      (result.elapsed_us / 1000).toFixed(3) + " ms server, " + roundTrip.toFixed(1) + " ms round trip";
    $("chart").innerHTML = svg;
    renderStats(await (await api("/api/stats")).json());
  } catch (error) {
    if (turn === latest) status.textContent = error.message;
  } finally {
    pending -= 1;
    updates += 1;
    document.body.dataset.updates = String(updates);
    document.body.dataset.busy = String(pending > 0);
  }
}

// ---- Downloads: the current answer in another encoding ----

async function download(accept, extension) {
  const status = $("status");
  try {
    const blob = await (await api("/api/query", queryOf(shown || viewOfControls()), accept)).blob();
    const url = URL.createObjectURL(blob);
    const a = element("a", { href: url, download: "answer." + extension });
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
    document.body.dataset.download = accept + " " + blob.size;
  } catch (error) {
    status.textContent = error.message;
  }
}

$("download-csv").addEventListener("click", () => download("text/csv", "csv"));
$("download-arrow").addEventListener("click", () => download("application/vnd.apache.arrow.stream", "arrows"));

api("/api/schema")
  .then((r) => r.json())
  .then((schema) => {
    buildControls(schema);
    foldFilters();
    const view = viewFromAddress(location.search);
    showView(view);
    history.replaceState(null, "", address(view));
    return update(view);
  })
  .catch((error) => { $("status").textContent = error.message; });
