"""Queries `pqc serve --flight` through Python's ADBC Flight SQL driver and
`polars.read_database`, as a dashboard would, and prints each answer as one
JSON line ({"columns", "rows"}) for tests/flight.rs to compare with `pqc sql`.

Usage: flight_adbc.py URI TOKEN SQL...
It also checks what does not print: a wrong token is refused, a statement
outside the subset fails with the server's message, and ADBC's catalog
listing finds the table with its columns.
"""

import datetime
import json
import sys

import adbc_driver_flightsql.dbapi as flightsql
import polars as pl


def cell(value):
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def main():
    uri, token, *queries = sys.argv[1:]

    try:
        with flightsql.connect(uri, db_kwargs={"username": "pqc", "password": "wrong"}) as conn:
            pl.read_database("SELECT COUNT(*) FROM sales", conn)
        sys.exit("a wrong token was accepted")
    except Exception as error:  # the driver's error types vary by version
        assert "nauthenticated" in str(error) or "token" in str(error), error

    with flightsql.connect(uri, db_kwargs={"username": "pqc", "password": token}) as conn:
        objects = conn.adbc_get_objects(depth="all").read_all().to_pylist()
        tables = [
            (catalog["catalog_name"], schema["db_schema_name"], table["table_name"],
             [c["column_name"] for c in table["table_columns"]])
            for catalog in objects
            for schema in catalog["catalog_db_schemas"]
            for table in schema["db_schema_tables"]
        ]
        assert [t[:3] for t in tables] == [("pqc", "main", "sales")], tables
        assert "revenue" in tables[0][3], tables

        try:
            pl.read_database("SELECT region FROM sales WHERE year = 2024 OR year = 2023", conn)
            sys.exit("OR was accepted")
        except Exception as error:
            assert "OR is not supported" in str(error), error

        for sql in queries:
            frame = pl.read_database(sql, conn)
            rows = [[cell(v) for v in row] for row in frame.rows()]
            print(json.dumps({"columns": frame.columns, "rows": rows}))


if __name__ == "__main__":
    main()
