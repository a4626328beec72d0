"""Runs the ClickHouse backend's statements in chdb-core (a current ClickHouse engine,
in-process) and checks the row counts the Rust side expects.

Usage: check_statements.py CHECKS.json
CHECKS.json is written by tests/it/clickhouse.rs (`current_profile_runs_in_chdb`)
from `tracery::clickhouse::check::checks`: a list of {"sql": ..., "expect_rows": n|null}.
Prints one line per statement and "N passed, N failed"; exits 1 on any failure.
"""

import json
import sys
import tempfile

import chdb
from chdb import session


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as file:
        checks = json.load(file)
    print(f"chdb {chdb.__version__}")
    passed = failed = 0
    with tempfile.TemporaryDirectory() as path:
        db = session.Session(path)
        print("engine", db.query("SELECT version()", "CSV").data().strip())
        for check in checks:
            sql, expected = check["sql"], check.get("expect_rows")
            first_line = sql.splitlines()[0][:110]
            try:
                # As the backend sends it (results hold binary ids: not printed).
                db.query(sql, "Null")
                rows = None
                if expected is not None:
                    counted = db.query(f"SELECT count() FROM ({sql})", "CSV")
                    rows = int(counted.data().strip())
            except Exception as error:  # chdb raises its own error types
                failed += 1
                print(f"FAIL {first_line}\n     {str(error).splitlines()[0]}")
                continue
            if expected is not None and rows != expected:
                failed += 1
                print(f"FAIL {first_line}\n     expected {expected} rows, got {rows}")
                continue
            passed += 1
            print(f"ok   {first_line}")
        db.close()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
