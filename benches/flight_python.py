"""The Python side of the Flight SQL figures: one cached 1,000-row answer
fetched from `pqc serve --flight` by ADBC (`cursor.fetch_arrow_table` and
`polars.read_database`), by `pyarrow.flight` (`DoGet` of a ticket, and the
whole `GetFlightInfo` + `DoGet`), by HTTP (`/api/sql`, Arrow IPC and
JSON), against the same query run by DuckDB's Python API on the CSV, and
against the seed's practice: pandas behind Flask-Caching's `RedisCache`
(a hit unpickles the frame from Redis; a miss re-reads the CSV). One run,
one machine.

Setup (once): python3 -m venv ~/.cache/pqc-venv &&
  ~/.cache/pqc-venv/bin/pip install -r benches/requirements-python.txt
Run: ~/.cache/pqc-venv/bin/python benches/flight_python.py \
       --pqc "$CARGO_TARGET_DIR/release/pqc" --csv "$CARGO_TARGET_DIR/pqc-bench/sales-10000000-seed42.csv"
A redis-server on 127.0.0.1:6379 is needed for the Flask-Caching rows
(`./scripts/test` starts one).
"""

import argparse
import socket
import statistics
import subprocess
import time

import adbc_driver_flightsql.dbapi as flightsql
import duckdb
import pandas as pd
import polars as pl
import pyarrow.flight as paflight
import pyarrow.ipc as ipc
import requests
from flask import Flask
from flask_caching import Cache

SQL = ("SELECT product, region, SUM(revenue) AS revenue, COUNT(*) AS orders "
       "FROM sales GROUP BY product, region")


def arrow_table(relation):
    """A DuckDB relation's answer as a pyarrow Table (`arrow()` gives a
    reader in DuckDB 2)."""
    answer = relation.arrow()
    return answer.read_all() if hasattr(answer, "read_all") else answer


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port, seconds=120):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port}")


def timed(fn, runs):
    """The median and the fastest of `runs` calls, in seconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field(number, payload):
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def statement_command(sql):
    """A Flight SQL CommandStatementQuery in a protobuf Any, by hand."""
    command = field(1, sql.encode())
    return field(1, b"type.googleapis.com/arrow.flight.protocol.sql.CommandStatementQuery") + field(2, command)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pqc", required=True)
    parser.add_argument("--csv", required=True)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--slow-runs", type=int, default=3)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()

    http_port, grpc_port = free_port(), free_port()
    server = subprocess.Popen([
        args.pqc, "serve", args.csv, "--quiet", "--table", "sales",
        "--bind", f"127.0.0.1:{http_port}", "--flight", f"127.0.0.1:{grpc_port}",
    ])
    rows = []
    try:
        wait_for(grpc_port)
        uri = f"grpc://127.0.0.1:{grpc_port}"
        conn = flightsql.connect(uri)
        cursor = conn.cursor()

        def adbc():
            cursor.execute(SQL)
            assert cursor.fetch_arrow_table().num_rows == 1000

        start = time.perf_counter()
        adbc()  # the miss: computed once, cached for everything below
        miss = time.perf_counter() - start

        client = paflight.FlightClient(uri)
        descriptor = paflight.FlightDescriptor.for_command(statement_command(SQL))
        ticket = client.get_flight_info(descriptor).endpoints[0].ticket

        def do_get():
            assert client.do_get(ticket).read_all().num_rows == 1000

        def info_and_do_get():
            info = client.get_flight_info(descriptor)
            assert client.do_get(info.endpoints[0].ticket).read_all().num_rows == 1000

        session = requests.Session()
        url = f"http://127.0.0.1:{http_port}/api/sql"

        def http_arrow():
            response = session.post(url, json={"sql": SQL},
                                    headers={"accept": "application/vnd.apache.arrow.stream"})
            assert ipc.open_stream(response.content).read_all().num_rows == 1000

        def http_json():
            response = session.post(url, json={"sql": SQL})
            assert len(response.json()["rows"]) == 1000

        def read_database():
            assert pl.read_database(SQL, conn).height == 1000

        for name, fn in [
            ("pyarrow.flight DoGet (ticket reused)", do_get),
            ("pyarrow.flight GetFlightInfo + DoGet", info_and_do_get),
            ("ADBC cursor.execute + fetch_arrow_table", adbc),
            ("ADBC polars.read_database", read_database),
            ("HTTP /api/sql, Arrow IPC (requests + pyarrow)", http_arrow),
            ("HTTP /api/sql, JSON (requests)", http_json),
        ]:
            fn()
            rows.append((name, *timed(fn, args.runs)))
        rows.append(("pqc miss (first ADBC call: computed)", miss, miss))
        cursor.close()
        conn.close()

        duck_sql = SQL.replace("FROM sales", f"FROM read_csv('{args.csv}')")

        def duckdb_csv():
            assert arrow_table(duckdb.sql(duck_sql)).num_rows == 1000

        rows.append(("DuckDB Python, on the CSV", *timed(duckdb_csv, args.slow_runs)))
        duck = duckdb.connect()
        duck.execute(f"CREATE TABLE sales AS SELECT * FROM read_csv('{args.csv}')")

        def duckdb_table():
            assert arrow_table(duck.sql(SQL)).num_rows == 1000

        duckdb_table()
        rows.append(("DuckDB Python, table loaded once", *timed(duckdb_table, 20)))
        del duck

        app = Flask(__name__)
        cache = Cache(app, config={
            "CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": args.redis,
            "CACHE_KEY_PREFIX": "pqc-flight-bench:", "CACHE_DEFAULT_TIMEOUT": 3600,
        })

        @cache.memoize(timeout=3600)
        def process_data():
            df = pd.read_csv(args.csv)
            return (df.groupby(["product", "region"], observed=True)
                    .agg(revenue=("revenue", "sum"), orders=("revenue", "size"))
                    .reset_index())

        with app.app_context():
            def flask_miss():
                cache.delete_memoized(process_data)
                assert len(process_data()) == 1000

            def flask_hit():
                assert len(process_data()) == 1000

            rows.append(("pandas + Flask-Caching RedisCache, miss", *timed(flask_miss, args.slow_runs)))
            flask_hit()
            rows.append(("pandas + Flask-Caching RedisCache, hit", *timed(flask_hit, args.runs)))
            cache.delete_memoized(process_data)
    finally:
        server.terminate()
        server.wait()

    print(f"{'client':<48} {'median':>12} {'fastest':>12}")
    for name, median, fastest in rows:
        print(f"{name:<48} {fmt(median):>12} {fmt(fastest):>12}")


def fmt(seconds):
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.0f} us"


if __name__ == "__main__":
    main()
