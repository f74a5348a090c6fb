//! The dashboard in a real headless browser (Debian's chromium, driven
//! through chromedriver), on the bundled sample and on a generated CSV of
//! another shape served by `pqc serve` with a bearer token: every control
//! changes the chart and the table, the table is what `/api/query` answers
//! for the same view, the address holds the view (a new navigation and the
//! back button restore it), the downloads are the answer, the statistics
//! count a hit when a view comes back, and no error reaches the console.
//! Screenshots at a desktop and a phone width are saved as test artifacts.
//! A declared dashboard (`pqc serve --dashboard`) shows its title and its
//! measures' number formats, and clicking through every filter value and
//! dimension computes nothing after the first load; the cache panel lists
//! the last answers, the hit ratio over time and the top queries.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use polars_query_cache::CachedQuery;
use polars_query_cache::server::{ServerConfig, app, serve};
use serde_json::{Value, json};

use crate::common::{self, Child};

const CHROMIUM: &str = "/usr/bin/chromium";

/// Where test artifacts go: `$PQC_ARTIFACTS`, or `target/pqc-artifacts`.
fn artifacts() -> PathBuf {
    let dir = std::env::var_os("PQC_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| "target".into());
            target.join("pqc-artifacts")
        });
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A chromedriver with one headless chromium session; `None` (the test
/// skips) when they are not installed.
struct Browser {
    client: Client,
    _driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn start() -> Option<Browser> {
        let found =
            std::path::Path::new(CHROMIUM).exists() && common::program_exists("chromedriver");
        if !common::available("chromium and chromedriver", found) {
            return None;
        }
        let port = common::free_port();
        let driver = Child(
            std::process::Command::new("chromedriver")
                .arg(format!("--port={port}"))
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap(),
        );
        assert!(
            common::wait_for_port(port, Duration::from_secs(20)),
            "chromedriver did not start"
        );
        let profile = tempfile::tempdir().unwrap();
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                    "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--window-size=1280,900", format!("--user-data-dir={}", profile.path().display()),
                ]
            }
        });
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities.as_object().unwrap().clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a chromedriver session");
        Some(Browser {
            client,
            _driver: driver,
            _profile: profile,
        })
    }
}

async fn script(client: &Client, code: &str) -> Value {
    client.execute(code, vec![]).await.unwrap()
}

async fn updates(client: &Client) -> u64 {
    let value = script(client, "return document.body.dataset.updates").await;
    value.as_str().and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// Waits until the page finished `n` updates.
async fn until_updates(client: &Client, n: u64) {
    let started = Instant::now();
    while updates(client).await < n {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the page did not finish update {n}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Picks `value` in the `<select>` at `css`, then waits for update `n`.
async fn select(client: &Client, css: &str, value: &str, n: u64) {
    let element = client.find(Locator::Css(css)).await.unwrap();
    element.select_by_value(value).await.unwrap();
    until_updates(client, n).await;
}

/// Clicks the element at `css`.
async fn press(client: &Client, css: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Clicks the element at `css`, then waits for update `n`.
async fn click(client: &Client, css: &str, n: u64) {
    press(client, css).await;
    until_updates(client, n).await;
}

/// Ticks value number `index` of the filter on `column`.
async fn tick(client: &Client, column: &str, index: usize, n: u64) {
    click(
        client,
        &format!("#filter-{column} input[data-index=\"{index}\"]"),
        n,
    )
    .await;
}

/// Types `value` into the `side` ("min" or "max") input of the range
/// filter on `column`, as a person does: the page updates on `change`.
async fn set_range(client: &Client, column: &str, side: &str, value: &str, n: u64) {
    let input = client
        .find(Locator::Css(&format!("#range-{column} .{side}")))
        .await
        .unwrap();
    client
        .execute(
            "arguments[0].value = arguments[1]; \
             arguments[0].dispatchEvent(new Event('change', {bubbles: true}));",
            vec![serde_json::to_value(&input).unwrap(), json!(value)],
        )
        .await
        .unwrap();
    until_updates(client, n).await;
}

async fn text(client: &Client, css: &str) -> String {
    client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn chart(client: &Client) -> String {
    client
        .find(Locator::Css("#chart svg"))
        .await
        .unwrap()
        .html(false)
        .await
        .unwrap()
}

/// The table as the page shows it: the headers, and per cell the value it
/// holds (JSON), the text shown and its class.
#[derive(Debug, Clone, PartialEq)]
struct Table {
    headers: Vec<String>,
    cells: Vec<Vec<(Value, String, String)>>,
}

impl Table {
    fn values(&self) -> Vec<Vec<Value>> {
        self.cells
            .iter()
            .map(|row| row.iter().map(|(v, _, _)| v.clone()).collect())
            .collect()
    }
}

/// `value` with every number as JavaScript holds it (an f64): the page
/// reads the answer with `JSON.parse`, so a mean of exactly 10 comes back
/// as `10`, which serde_json tells apart from the server's `10.0`.
fn as_js_numbers(value: &Value) -> Value {
    match value {
        Value::Number(n) => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number),
        Value::Array(items) => Value::Array(items.iter().map(as_js_numbers).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), as_js_numbers(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

async fn table(client: &Client) -> Table {
    let value = script(
        client,
        "return {headers: [...document.querySelectorAll('#table th')].map((th) => th.dataset.column),
                 cells: [...document.querySelectorAll('#table tbody tr')].map((tr) =>
                   [...tr.cells].map((td) => [JSON.parse(td.dataset.value), td.textContent, td.className]))};",
    )
    .await;
    let headers = serde_json::from_value(value["headers"].clone()).unwrap();
    let cells = value["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    (
                        c[0].clone(),
                        c[1].as_str().unwrap().to_owned(),
                        c[2].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        })
        .collect();
    Table { headers, cells }
}

/// What the controls show: ticked values, range inputs and the pickers.
async fn controls(client: &Client) -> Value {
    script(
        client,
        "return {
           ticked: [...document.querySelectorAll('#filters input:checked')].map((i) => i.closest('fieldset').id + '=' + i.value),
           ranges: [...document.querySelectorAll('#ranges input')].map((i) => i.value),
           pickers: ['dimension', 'series', 'measure-column', 'measure-fn'].map((id) => document.getElementById(id).value)};",
    )
    .await
}

/// Fails on any error the page counted (console.error, uncaught errors or
/// rejections) or showed in its status line.
async fn assert_clean(client: &Client) {
    let errors = script(client, "return document.body.dataset.errors").await;
    assert_eq!(errors, json!("0"), "the page logged errors");
    assert_eq!(
        text(client, "#status").await,
        "",
        "the page reported an error"
    );
}

/// Opens the page served on `port` and waits for its first update, which
/// must be clean.
async fn open(client: &Client, port: u16) {
    client
        .goto(&format!("http://127.0.0.1:{port}/"))
        .await
        .unwrap();
    until_updates(client, 1).await;
    assert_clean(client).await;
}

/// One HTTP/1.1 request: (status, body).
fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Vec<u8>) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        request += &format!("{name}: {value}\r\n");
    }
    write!(stream, "{request}\r\n{body}").unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP response");
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "{head}"
    );
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, response[split + 4..].to_vec())
}

/// The server the page talks to, as the test asks it directly.
struct Server {
    port: u16,
    token: Option<String>,
}

impl Server {
    fn request(&self, method: &str, path: &str, accept: &str, body: &str) -> Vec<u8> {
        let bearer = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let mut headers = vec![("Accept", accept), ("Content-Type", "application/json")];
        if let Some(bearer) = &bearer {
            headers.push(("Authorization", bearer));
        }
        let (status, body) = http(self.port, method, path, &headers, body);
        assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
        body
    }

    fn json(&self, method: &str, path: &str, body: &str) -> Value {
        serde_json::from_slice(&self.request(method, path, "application/json", body)).unwrap()
    }
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A view as the test expects it, kept apart from the page's code: the
/// query it stands for and the address that holds it.
#[derive(Debug, Clone)]
struct View {
    filters: Vec<(String, Vec<Value>)>,
    /// column, low, high (as typed; empty for none), whether text (a date
    /// or a datetime) rather than a number.
    ranges: Vec<(String, String, String, bool)>,
    x: String,
    series: Option<String>,
    measure: Option<String>,
    aggregate: String,
}

impl View {
    fn default_of(dashboard: &Value) -> View {
        let first = &dashboard["measures"][0];
        View {
            filters: Vec::new(),
            ranges: Vec::new(),
            x: dashboard["x"].as_str().unwrap().to_owned(),
            series: None,
            measure: first["column"].as_str().map(str::to_owned),
            aggregate: first["fn"].as_str().unwrap().to_owned(),
        }
    }

    /// The measure's label: the dashboard's for its own measures.
    fn label(&self, dashboard: &Value) -> String {
        let measures = dashboard["measures"].as_array().unwrap();
        let own = measures.iter().find(|m| {
            m["column"].as_str() == self.measure.as_deref() && m["fn"] == json!(self.aggregate)
        });
        match (own, &self.measure) {
            (Some(m), _) => m["label"].as_str().unwrap().to_owned(),
            (None, Some(column)) => format!("{column} ({})", self.aggregate),
            (None, None) => unreachable!("len is among the dashboard's measures"),
        }
    }

    fn query(&self, dashboard: &Value) -> Value {
        let mut filters: Vec<Value> = self
            .filters
            .iter()
            .map(|(c, values)| json!({"column": c, "op": "in", "value": values}))
            .collect();
        for (column, lo, hi, date) in &self.ranges {
            let value = |t: &str| {
                if *date {
                    json!(t)
                } else {
                    serde_json::from_str::<Value>(t).unwrap()
                }
            };
            filters.push(match (lo.is_empty(), hi.is_empty()) {
                (false, false) => {
                    json!({"column": column, "op": "between", "value": [value(lo), value(hi)]})
                }
                (false, true) => json!({"column": column, "op": "ge", "value": value(lo)}),
                (true, false) => json!({"column": column, "op": "le", "value": value(hi)}),
                (true, true) => continue,
            });
        }
        let mut group_by = vec![self.x.clone()];
        group_by.extend(self.series.clone());
        let mut agg = json!({"fn": self.aggregate, "alias": self.label(dashboard)});
        if let Some(m) = &self.measure {
            agg["column"] = json!(m);
        }
        json!({"filters": filters, "group_by": group_by, "aggs": [agg]})
    }

    fn address(&self) -> BTreeMap<String, String> {
        let mut params = BTreeMap::new();
        for (column, values) in &self.filters {
            // Commas separate values: one inside a value is escaped.
            let values: Vec<String> = values
                .iter()
                .map(|v| as_text(v).replace('%', "%25").replace(',', "%2C"))
                .collect();
            params.insert(format!("f.{column}"), values.join(","));
        }
        for (column, lo, hi, _) in &self.ranges {
            params.insert(format!("r.{column}"), format!("{lo}..{hi}"));
        }
        params.insert("x".into(), self.x.clone());
        if let Some(s) = &self.series {
            params.insert("s".into(), s.clone());
        }
        if let Some(m) = &self.measure {
            params.insert("m".into(), m.clone());
        }
        params.insert("a".into(), self.aggregate.clone());
        params
    }
}

/// What the page showed for one view.
#[derive(Debug, Clone, PartialEq)]
struct Shown {
    table: Table,
    chart: String,
}

/// Checks the page against the server for `view`: the table is the JSON
/// answer (values, order, headers, nulls shown as `null`), the address
/// holds the view and never the token.
async fn check(client: &Client, server: &Server, dashboard: &Value, view: &View) -> Shown {
    assert_clean(client).await;
    let answer = server.json("POST", "/api/query", &view.query(dashboard).to_string());
    let shown = table(client).await;
    assert_eq!(
        json!(shown.headers),
        answer["columns"],
        "the table's columns for {view:?}"
    );
    assert_eq!(
        as_js_numbers(&json!(shown.values())),
        as_js_numbers(&answer["rows"]),
        "the table differs from /api/query for {view:?}"
    );
    for row in &shown.cells {
        for (value, text, class) in row {
            if value.is_null() {
                assert_eq!((text.as_str(), class.as_str()), ("null", "null"));
            }
        }
    }
    let active = view.filters.len() + view.ranges.len();
    let count = match active {
        0 => String::new(),
        n => format!("({n} active)"),
    };
    let shown_count = script(
        client,
        "return document.getElementById('filter-count').textContent",
    )
    .await;
    assert_eq!(shown_count, json!(count), "the filters' summary");
    let url = client.current_url().await.unwrap();
    let params: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(params, view.address(), "the address of {view:?}");
    if let Some(token) = &server.token {
        assert!(!url.as_str().contains(token.as_str()), "{url}");
    }
    Shown {
        table: shown,
        chart: chart(client).await,
    }
}

fn number(v: &Value) -> f64 {
    v.as_f64().unwrap()
}

/// A walk through the page's controls: the view the test expects, what
/// the page showed last and how many updates it finished.
struct Walk<'a> {
    client: &'a Client,
    server: &'a Server,
    dashboard: Value,
    view: View,
    shown: Shown,
    updates: u64,
    seen_null: bool,
}

impl Walk<'_> {
    /// The number of the update the next action causes.
    fn next(&mut self) -> u64 {
        self.updates += 1;
        self.updates
    }

    /// After an action: the page shows `self.view`, and it looks
    /// different from before.
    async fn changed(&mut self, what: &str) {
        let now = check(self.client, self.server, &self.dashboard, &self.view).await;
        assert_ne!(
            now.table, self.shown.table,
            "{what} did not change the table"
        );
        assert_ne!(
            now.chart, self.shown.chart,
            "{what} did not change the chart"
        );
        self.seen_null |= now.table.values().iter().flatten().any(Value::is_null);
        self.shown = now;
    }

    /// Waits for the update a history move causes, then checks the page
    /// shows `view` as `shown`.
    async fn restored(&mut self, view: &View, shown: &Shown) {
        let n = self.next();
        until_updates(self.client, n).await;
        let now = check(self.client, self.server, &self.dashboard, view).await;
        assert_eq!(&now, shown, "{view:?} restored");
    }
}

/// Drives every control of the page on `server`'s table in a new browser,
/// checking each view against the server; saves screenshots named after
/// `name`.
async fn explore(server: &Server, name: &str) {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let client = &browser.client;
    let schema = server.json("GET", "/api/schema", "");
    let dashboard = schema["dashboard"].clone();
    let column = |name: &str| {
        schema["columns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == json!(name))
            .unwrap()
            .clone()
    };
    let values = |name: &str| column(name)["values"].as_array().unwrap().clone();
    let names =
        |field: &str| -> Vec<String> { serde_json::from_value(dashboard[field].clone()).unwrap() };
    let base = format!("http://127.0.0.1:{}/", server.port);
    match &server.token {
        Some(token) => client.goto(&format!("{base}#token={token}")).await.unwrap(),
        None => client.goto(&base).await.unwrap(),
    }
    until_updates(client, 1).await;
    let view = View::default_of(&dashboard);
    let shown = check(client, server, &dashboard, &view).await;
    let seen_null = shown.table.values().iter().flatten().any(Value::is_null);
    let mut walk = Walk {
        client,
        server,
        dashboard: dashboard.clone(),
        view,
        shown,
        updates: 1,
        seen_null,
    };

    // A filter: one value, then a second one (a multi-select).
    let filters = names("filters");
    let filter = filters[0].clone();
    for (i, value) in values(&filter).into_iter().take(2).enumerate() {
        let n = walk.next();
        tick(client, &filter, i, n).await;
        match walk.view.filters.first_mut() {
            Some((_, chosen)) => chosen.push(value),
            None => walk.view.filters.push((filter.clone(), vec![value])),
        }
        walk.changed("a filter").await;
    }

    // A value with a comma in it, in the address too.
    let comma = filters.iter().skip(1).find_map(|f| {
        let values = values(f);
        let i = values.iter().position(|v| as_text(v).contains(','))?;
        Some((f.clone(), i, values[i].clone()))
    });
    if let Some((filter, i, value)) = comma {
        let n = walk.next();
        tick(client, &filter, i, n).await;
        walk.view.filters.push((filter, vec![value]));
        walk.changed("a value with a comma").await;
    } else {
        assert_eq!(name, "sample", "the generated table has a comma in a value");
    }

    // A range on the measure's column: a low bound, then a high one.
    let measure = walk.view.measure.clone().expect("a measure column");
    let range = dashboard["ranges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["column"] == json!(measure))
        .unwrap()
        .clone();
    let (min, max) = (number(&range["min"]), number(&range["max"]));
    let integer = column(&measure)["type"] == json!("int");
    let at = |share: f64| {
        let v = min + (max - min) * share;
        if integer {
            format!("{}", v.round() as i64)
        } else {
            format!("{v:.2}")
        }
    };
    let n = walk.next();
    set_range(client, &measure, "min", &at(0.2), n).await;
    walk.view
        .ranges
        .push((measure.clone(), at(0.2), String::new(), false));
    walk.changed("a range's low end").await;
    let n = walk.next();
    set_range(client, &measure, "max", &at(0.8), n).await;
    walk.view.ranges[0].2 = at(0.8);
    walk.changed("a range's high end").await;

    // A range on a datetime column, through its datetime-local input.
    let datetime = dashboard["ranges"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|r| {
            let name = r["column"].as_str()?;
            (column(name)["type"] == json!("datetime")).then(|| (name.to_owned(), r["min"].clone()))
        });
    if let Some((datetime, min)) = datetime {
        // A day after the first value, to the minute, as the input gives it.
        let first = chrono::NaiveDateTime::parse_from_str(
            &min.as_str().unwrap()[..19],
            "%Y-%m-%d %H:%M:%S",
        )
        .unwrap();
        let low = (first + chrono::TimeDelta::days(1))
            .format("%Y-%m-%dT%H:%M")
            .to_string();
        let n = walk.next();
        set_range(client, &datetime, "min", &low, n).await;
        walk.view.ranges.push((datetime, low, String::new(), true));
        walk.changed("a datetime range").await;
    } else {
        assert_eq!(name, "sample", "the generated table has a datetime column");
    }

    // Another dimension along the x axis.
    let x = names("dimensions")
        .into_iter()
        .find(|d| *d != walk.view.x)
        .unwrap();
    let n = walk.next();
    select(client, "#dimension", &x, n).await;
    walk.view.x = x;
    walk.changed("the dimension").await;

    // A second dimension, split into series: a filter column of the fewest
    // values.
    let series = filters
        .iter()
        .filter(|f| **f != walk.view.x)
        .min_by_key(|f| values(f).len())
        .unwrap()
        .clone();
    let n = walk.next();
    select(client, "#series", &series, n).await;
    walk.view.series = Some(series);
    walk.changed("the series").await;

    // Another measure column: it comes with its own default aggregate.
    let other = dashboard["measures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["column"].is_string() && m["column"] != json!(measure))
        .unwrap()
        .clone();
    let other_column = other["column"].as_str().unwrap();
    let n = walk.next();
    select(client, "#measure-column", other_column, n).await;
    walk.view.measure = Some(other_column.to_owned());
    walk.view.aggregate = other["fn"].as_str().unwrap().to_owned();
    walk.changed("the measure").await;

    // Another aggregate.
    let aggregate = if walk.view.aggregate == "max" {
        "min"
    } else {
        "max"
    };
    let n = walk.next();
    select(client, "#measure-fn", aggregate, n).await;
    walk.view.aggregate = aggregate.to_owned();
    walk.changed("the aggregate").await;
    let previous = (
        walk.view.clone(),
        walk.shown.clone(),
        controls(client).await,
    );

    // Rows, always there.
    let n = walk.next();
    select(client, "#measure-column", "", n).await;
    walk.view.measure = None;
    walk.view.aggregate = "len".to_owned();
    walk.changed("rows").await;

    // The back button brings the previous view back, forward this one.
    let (view, shown, here) = (
        walk.view.clone(),
        walk.shown.clone(),
        controls(client).await,
    );
    client.back().await.unwrap();
    walk.restored(&previous.0, &previous.1).await;
    assert_eq!(controls(client).await, previous.2);
    client.forward().await.unwrap();
    walk.restored(&view, &shown).await;
    assert_eq!(controls(client).await, here);

    // The address alone restores the view in a new navigation.
    let address = client.current_url().await.unwrap();
    client.goto("about:blank").await.unwrap();
    client.goto(address.as_str()).await.unwrap();
    walk.updates = 0;
    walk.restored(&view, &shown).await;
    assert_eq!(controls(client).await, here, "the controls from {address}");

    // Downloads: the same answer as CSV and as Arrow IPC.
    let query = view.query(&dashboard).to_string();
    for (button, accept) in [
        ("#download-csv", "text/csv"),
        ("#download-arrow", "application/vnd.apache.arrow.stream"),
    ] {
        let expected = server.request("POST", "/api/query", accept, &query);
        press(client, button).await;
        let started = Instant::now();
        let want = json!(format!("{accept} {}", expected.len()));
        while script(client, "return document.body.dataset.download || ''").await != want {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "no {accept} download"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    // Sorting by a header, numbers as numbers, then the other way.
    let last = shown.table.headers.len() - 1;
    let header = format!("#table th:nth-child({})", last + 1);
    let by_text = |rows: &mut Vec<Vec<Value>>| {
        rows.sort_by_key(|r| r.iter().map(as_text).collect::<Vec<_>>());
    };
    for descending in [false, true] {
        press(client, &header).await;
        let sorted = table(client).await;
        let column: Vec<f64> = sorted.values().iter().map(|r| number(&r[last])).collect();
        let mut expected = column.clone();
        expected.sort_by(|a, b| a.total_cmp(b));
        if descending {
            expected.reverse();
        }
        assert_eq!(column, expected, "sorted descending: {descending}");
        let (mut rows, mut original) = (sorted.values(), shown.table.values());
        by_text(&mut rows);
        by_text(&mut original);
        assert_eq!(rows, original, "sorting lost or changed rows");
    }
    assert_eq!(updates(client).await, 1, "sorting queried the server");

    if name != "sample" {
        assert!(walk.seen_null, "no null shown on a table with nulls");
    }
    screenshots(client, name).await;
    assert_clean(client).await;
    browser.client.close().await.unwrap();
}

/// Screenshots at a desktop and a phone width; on the phone the page fits
/// the width (wide tables scroll inside their box) and the chart starts on
/// the first screen (the filters fold away under their summary).
async fn screenshots(client: &Client, name: &str) {
    for (device, width, height) in [("desktop", 1280, 800), ("phone", 390, 844)] {
        client.set_window_size(width, height).await.unwrap();
        script(client, "window.scrollTo(0, 0)").await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let png = client.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"));
        let path = artifacts().join(format!("dashboard-{name}-{device}.png"));
        std::fs::write(&path, png).unwrap();
        eprintln!("screenshot: {}", path.display());
        let overflow = script(
            client,
            "const width = document.documentElement.clientWidth;
             return [...document.querySelectorAll('body *')]
               .filter((e) => e.getBoundingClientRect().right > width + 0.5 && !e.closest('.numbers table'))
               .map((e) => e.tagName + '#' + e.id + '.' + e.className);",
        )
        .await;
        assert_eq!(overflow, json!([]), "wider than a {device}: {overflow}");
        let chart_top = script(
            client,
            "return document.getElementById('chart').getBoundingClientRect().top < innerHeight",
        )
        .await;
        assert_eq!(
            chart_top,
            json!(true),
            "the chart is below a {device}'s screen"
        );
    }
}

/// The server on the bundled sample, in this process, on a free port.
async fn sample_server() -> (Arc<CachedQuery>, u16) {
    let cache = Arc::new(
        CachedQuery::from_csv(concat!(env!("CARGO_MANIFEST_DIR"), "/data/sales.csv")).unwrap(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(serve(
        listener,
        app(Arc::clone(&cache), ServerConfig::default()),
    ));
    (cache, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_control_of_the_sample_matches_the_api_and_the_address() {
    let (_, port) = sample_server().await;
    explore(&Server { port, token: None }, "sample").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_control_of_an_unfamiliar_csv_matches_the_api_and_the_address() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("shipments.csv");
    common::unfamiliar_csv(&csv, 3_000, 12);
    let port = common::free_port();
    let token = "a-bearer-token-for-the-browser-test";
    let _server = Child(
        std::process::Command::new(assert_cmd::cargo::cargo_bin("pqc"))
            .arg("serve")
            .arg(&csv)
            .args(["--bind", &format!("127.0.0.1:{port}"), "--quiet"])
            .args(["--token", token])
            .spawn()
            .unwrap(),
    );
    assert!(
        common::wait_for_port(port, Duration::from_secs(60)),
        "pqc serve did not start"
    );
    let server = Server {
        port,
        token: Some(token.to_owned()),
    };
    // The layout the test relies on: inferred, not named.
    let schema = server.json("GET", "/api/schema", "");
    let dashboard = &schema["dashboard"];
    assert_eq!(dashboard["x"], json!("shipped_on"), "{dashboard}");
    assert!(
        !dashboard["filters"]
            .as_array()
            .unwrap()
            .contains(&json!("ticket")),
        "{dashboard}"
    );
    explore(&server, "unfamiliar").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_updates_and_counts_a_hit() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let client = &browser.client;
    let (cache, port) = sample_server().await;
    open(client, port).await;
    assert_eq!(text(client, "#last-source").await, "computed");
    let all = table(client).await;
    assert_eq!(all.cells.len(), 12, "one row a month: {all:?}");
    let all_chart = chart(client).await;
    assert!(all_chart.contains("polyline"), "no line in the chart");

    // Pick one category: new numbers, a new chart, computed.
    click(client, "#filter-category input[value=Games]", 2).await;
    assert_eq!(text(client, "#last-source").await, "computed");
    let games = table(client).await;
    assert_eq!(games.cells.len(), 12);
    assert_ne!(games, all);
    assert_ne!(chart(client).await, all_chart);

    // A year and another measure, too.
    let measures = script(
        client,
        "return [...document.getElementById('measure-column').options].map((o) => o.value)",
    )
    .await;
    let first = script(
        client,
        "return document.getElementById('measure-column').value",
    )
    .await;
    let other = measures
        .as_array()
        .unwrap()
        .iter()
        .find(|m| **m != first)
        .unwrap();
    click(client, "#filter-year input[value=\"2023\"]", 3).await;
    select(client, "#measure-column", other.as_str().unwrap(), 4).await;
    assert_clean(client).await;

    // Back to the first selection: the cache answers, and counts the hit.
    let hits = || async {
        let text = text(client, "#stat-hits").await;
        text.split(' ').next().unwrap().parse::<u64>().unwrap()
    };
    let hits_before = hits().await;
    select(client, "#measure-column", first.as_str().unwrap(), 5).await;
    click(client, "#filter-year input[value=\"2023\"]", 6).await;
    click(client, "#filter-category input[value=Games]", 7).await;
    assert_eq!(text(client, "#last-source").await, "memory");
    assert_eq!(table(client).await, all);
    assert_eq!(chart(client).await, all_chart);
    let hits_after = hits().await;
    assert!(
        hits_after > hits_before,
        "hits {hits_before} -> {hits_after}"
    );
    assert_eq!(cache.cache_info().hits, hits_after);

    let png = client.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    let path = artifacts().join("dashboard.png");
    std::fs::write(&path, png).unwrap();
    eprintln!("screenshot: {}", path.display());
    browser.client.close().await.unwrap();
}

/// Parses a number the page formatted with a d3-like spec: an optional
/// `$`, thousands grouped by commas, exactly `decimals` decimals; checks
/// the shape and that it is `value` rounded.
fn formatted(text: &str, dollar: bool, decimals: usize, value: f64) {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let rest = match (dollar, rest.strip_prefix('$')) {
        (true, Some(rest)) => rest,
        (false, None) => rest,
        _ => panic!("{text:?}: a dollar sign expected: {dollar}"),
    };
    let (whole, fraction) = rest.split_once('.').unwrap_or((rest, ""));
    assert_eq!(fraction.len(), decimals, "{text:?}: decimals");
    let groups: Vec<&str> = whole.split(',').collect();
    assert!(
        (1..=3).contains(&groups[0].len())
            && groups[1..].iter().all(|g| g.len() == 3)
            && groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_digit())),
        "{text:?}: thousands grouped by commas"
    );
    let digits = format!("{}.{fraction}0", groups.concat());
    let mut parsed: f64 = digits.parse().unwrap();
    if negative {
        parsed = -parsed;
    }
    let half = 0.5 * 10f64.powi(-(decimals as i32));
    assert!(
        (parsed - value).abs() <= half + 1e-9 * value.abs().max(1.0),
        "{text:?} is not {value} with {decimals} decimals"
    );
}

/// A declared dashboard in the browser: its title, its measures' number
/// formats in the table, and a walk through every value of every filter
/// (each alone), every dimension as x and one series, every view what
/// `/api/query` answers, with no computation after the first page load
/// (the roll-up pinned at start answers all of them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_dashboard_is_formatted_and_clicked_through_without_computing() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let client = &browser.client;
    let dir = tempfile::tempdir().unwrap();
    let declaration = dir.path().join("dashboard.json");
    std::fs::write(
        &declaration,
        json!({
            "title": "Sales by channel",
            "filters": ["category", "channel"],
            "dimensions": ["month", "region", "year"],
            "measures": [
                {"column": "revenue", "fn": "mean", "label": "Average order", "format": "$,.2f"},
                {"column": "revenue", "fn": "sum", "label": "Revenue", "format": ",.0f"},
                {"fn": "len", "label": "Orders"}
            ]
        })
        .to_string(),
    )
    .unwrap();
    let port = common::free_port();
    let _server = Child(
        std::process::Command::new(assert_cmd::cargo::cargo_bin("pqc"))
            .arg("serve")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/data/sales.csv"))
            .arg("--dashboard")
            .arg(&declaration)
            .args(["--bind", &format!("127.0.0.1:{port}"), "--quiet"])
            .spawn()
            .unwrap(),
    );
    assert!(
        common::wait_for_port(port, Duration::from_secs(60)),
        "pqc serve did not start"
    );
    let server = Server { port, token: None };
    let schema = server.json("GET", "/api/schema", "");
    let dashboard = schema["dashboard"].clone();
    assert_eq!(dashboard["declared"], json!(true), "{dashboard}");

    open(client, port).await;
    let computations = || server.json("GET", "/api/stats", "")["computations"].clone();
    let settled = computations();

    // The title, in the page and the tab.
    assert_eq!(text(client, "#title").await, "Sales by channel");
    assert_eq!(
        script(client, "return document.title").await,
        json!("Sales by channel")
    );

    // The format subset, and its fallback to plain numbers.
    let formats = script(
        client,
        "const f = (spec, n) => { const g = numberFormat(spec); return g ? g(n) : null; };
         return [f(',.0f', 1234.5), f(',.2f', 1234.567), f('$,.0f', 1234.4), f('.1%', 0.1234),
                 f(',d', -0.2), f('~s', 1234), f(',.0e', 1), f(42, 1)];",
    )
    .await;
    assert_eq!(
        formats,
        json!([
            "1,235", "1,234.57", "$1,234", "12.3%", "0", null, null, null
        ])
    );

    let mut view = View::default_of(&dashboard);
    let mut n = 1;
    // Checks the page shows `view` (the table is `/api/query`'s, the
    // address holds it), answered without computing.
    async fn step(client: &Client, server: &Server, dashboard: &Value, view: &View) -> Table {
        check(client, server, dashboard, view).await;
        let source = script(
            client,
            "return document.querySelector('#recent li').dataset.source",
        )
        .await;
        assert!(
            source == json!("memory") || source == json!("derived"),
            "{view:?} answered from {source}"
        );
        table(client).await
    }

    // The mean, as `$,.2f`; the other columns plain.
    let shown = step(client, &server, &dashboard, &view).await;
    assert_eq!(shown.headers, ["month", "Average order"]);
    assert_eq!(shown.cells.len(), 12, "{shown:?}");
    for row in &shown.cells {
        assert_eq!(row[0].1, as_text(&row[0].0));
        formatted(&row[1].1, true, 2, number(&row[1].0));
    }

    // Every value of every filter, each alone.
    for filter in dashboard["filters"].as_array().unwrap() {
        let name = filter.as_str().unwrap();
        let column = schema["columns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == *filter)
            .unwrap();
        let values = column["values"].as_array().unwrap();
        assert!(values.len() >= 2, "{column}");
        for (i, value) in values.iter().enumerate() {
            n += 1;
            tick(client, name, i, n).await;
            view.filters = vec![(name.to_owned(), vec![value.clone()])];
            step(client, &server, &dashboard, &view).await;
            n += 1;
            tick(client, name, i, n).await;
            view.filters.clear();
            step(client, &server, &dashboard, &view).await;
        }
    }

    // Every dimension as x, back to the first, then one series.
    let dimensions: Vec<String> = serde_json::from_value(dashboard["dimensions"].clone()).unwrap();
    for x in dimensions[1..].iter().chain(&dimensions[..1]) {
        n += 1;
        select(client, "#dimension", x, n).await;
        view.x = x.clone();
        step(client, &server, &dashboard, &view).await;
    }
    n += 1;
    select(client, "#series", &dimensions[1], n).await;
    view.series = Some(dimensions[1].clone());
    step(client, &server, &dashboard, &view).await;

    // The other measures: the sum as `,.0f`, the row count plain.
    n += 1;
    select(client, "#measure-fn", "sum", n).await;
    view.aggregate = "sum".into();
    let shown = step(client, &server, &dashboard, &view).await;
    assert_eq!(shown.headers, ["month", "region", "Revenue"]);
    for row in &shown.cells {
        formatted(&row[2].1, false, 0, number(&row[2].0));
    }
    n += 1;
    select(client, "#measure-column", "", n).await;
    view.measure = None;
    view.aggregate = "len".into();
    let shown = step(client, &server, &dashboard, &view).await;
    assert_eq!(shown.headers, ["month", "region", "Orders"]);
    for row in &shown.cells {
        assert_eq!(row[2].1, as_text(&row[2].0));
    }

    // Not one computation since the first page load settled.
    assert_eq!(computations(), settled, "clicks computed");

    // The cache panel: the last ten answers, newest first; one reading of
    // the hit ratio a completed update; the most-hit queries.
    let panel = script(
        client,
        "return {
           recent: [...document.querySelectorAll('#recent li')].map((li) => li.dataset.source),
           readings: Number(document.getElementById('ratio-spark').dataset.readings),
           line: document.querySelectorAll('#ratio-spark polyline').length,
           top: [...document.querySelectorAll('#top-queries li')].map((li) => [li.querySelector('code').textContent, Number(li.dataset.hits)])};",
    )
    .await;
    assert_eq!(panel["recent"].as_array().unwrap().len(), 10, "{panel}");
    assert_eq!(panel["readings"], json!(n.min(60)), "{panel}");
    assert_eq!(panel["line"], json!(1), "{panel}");
    let top = panel["top"].as_array().unwrap();
    assert!(!top.is_empty(), "{panel}");
    assert!(
        top.windows(2).all(|w| w[0][1].as_u64() >= w[1][1].as_u64())
            && top.iter().all(|q| q[1].as_u64() > Some(0)),
        "{panel}"
    );
    // Each as SQL over the data file's name, which /api/sql answers.
    assert!(
        top.iter().all(|q| q[0]
            .as_str()
            .is_some_and(|sql| sql.starts_with("SELECT ") && sql.contains(" FROM sales"))),
        "{panel}"
    );
    assert_clean(client).await;

    let png = client.screenshot().await.unwrap();
    let path = artifacts().join("declared.png");
    std::fs::write(&path, png).unwrap();
    eprintln!("screenshot: {}", path.display());
    browser.client.close().await.unwrap();
}
