"""The seed's dashboard (revenue by month for a category and a year) on top
of polars-query-cache, reached over Arrow Flight SQL with ADBC: no pandas
re-reading the CSV, no Flask-Caching, no Rust code of its own.

Every gunicorn worker opens its own Flight SQL connection to one
`pqc serve --flight` process, so all workers share one cache: a view one
worker computed is a memory hit for every other, and equal questions from
several workers at once are computed once.

Start (see README.md):

    pqc serve data/sales.csv --flight 127.0.0.1:50051 --token s3cret
    PQC_TOKEN=s3cret gunicorn --workers 4 --bind 127.0.0.1:8050 app:server
"""

import os
import threading

import adbc_driver_flightsql.dbapi as flightsql
import plotly.graph_objects as go
import polars as pl
from dash import Dash, Input, Output, dcc, html

FLIGHT = os.environ.get("PQC_FLIGHT", "grpc://127.0.0.1:50051")
TOKEN = os.environ.get("PQC_TOKEN")
TABLE = os.environ.get("PQC_TABLE", "sales")

# One connection per worker process and thread, opened on first use (after
# gunicorn forks, never before).
_local = threading.local()


def connection():
    conn = getattr(_local, "conn", None)
    if conn is None:
        credentials = {"username": "dash", "password": TOKEN} if TOKEN else {}
        conn = flightsql.connect(FLIGHT, db_kwargs=credentials)
        _local.conn = conn
    return conn


def query(sql: str) -> pl.DataFrame:
    """The answer to `sql`, from the cache behind `pqc serve --flight`."""
    return pl.read_database(sql, connection())


def text(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def revenue_by_month(category: str, year: int) -> pl.DataFrame:
    """The seed's `process_data(category, year)`, as one cached query."""
    return query(
        f"SELECT month, SUM(revenue) AS revenue, SUM(units) AS units FROM {TABLE} "
        f"WHERE category = {text(category)} AND year = {int(year)} GROUP BY month"
    )


def layout():
    # Read at each page load, so a refreshed CSV shows its new values.
    categories = query(f"SELECT category FROM {TABLE} GROUP BY category")["category"].to_list()
    years = query(f"SELECT year FROM {TABLE} GROUP BY year")["year"].to_list()
    return html.Div(
        [
            html.H2("Revenue by month"),
            dcc.Dropdown(categories, categories[0], id="category", clearable=False),
            dcc.Dropdown(years, years[-1], id="year", clearable=False),
            dcc.Graph(id="chart"),
        ],
        style={"maxWidth": "900px", "margin": "auto", "fontFamily": "sans-serif"},
    )


app = Dash(__name__, title="pqc over Flight SQL")
app.layout = layout
server = app.server  # for gunicorn: `app:server`


@app.callback(Output("chart", "figure"), Input("category", "value"), Input("year", "value"))
def update(category, year):
    data = revenue_by_month(category, year)
    figure = go.Figure(go.Bar(x=data["month"].to_list(), y=data["revenue"].to_list(), name="revenue"))
    figure.update_layout(title=f"{category}, {year}", xaxis_title="month", yaxis_title="revenue")
    return figure


if __name__ == "__main__":
    app.run(debug=False, port=8050)
