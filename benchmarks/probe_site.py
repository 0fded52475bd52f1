"""Probe a running site the way issue 15's findings were found, and print what happened.

Start it as `make run` does (gunicorn with 2 workers and `flask jobs work`, default SQLite), then:

    .venv/bin/python benchmarks/probe_site.py --base http://127.0.0.1:5000 --db instance/marketplace.db

It sends 300 views of one detail page, 20 at a time (none may answer 500; how many are counted is
best-effort), a few overflowing query arguments, and then writes an outbox row from this process
to time how long the idle worker takes to index it.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import sqlite3
import time
import urllib.error
import urllib.request


def get(base: str, path: str) -> int:
    try:
        with urllib.request.urlopen(base + path, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", default="http://127.0.0.1:5000")
    parser.add_argument("--db", default="instance/marketplace.db")
    parser.add_argument("--views", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    db = sqlite3.connect(args.db, timeout=10)
    listing_id, other_id = [row[0] for row in db.execute("SELECT id FROM listings WHERE status = 'published' LIMIT 2")]

    before = db.execute("SELECT view_count FROM listings WHERE id = ?", (listing_id,)).fetchone()[0]
    with concurrent.futures.ThreadPoolExecutor(args.concurrency) as pool:
        statuses = list(pool.map(lambda _: get(args.base, f"/listings/{listing_id}"), range(args.views)))
    after = db.execute("SELECT view_count FROM listings WHERE id = ?", (listing_id,)).fetchone()[0]
    answers = {status: statuses.count(status) for status in sorted(set(statuses))}
    print(f"{args.views} views, {args.concurrency} at a time: answers {answers}, counted {after - before}")

    for path in (
        "/achievements?amount_max=1e309",
        "/achievements?page=99999999999999999999",
        "/demands?amount_min=" + "9" * 400,
    ):
        print(f"GET {path[:50]}: {get(args.base, path)}")

    time.sleep(5)  # let the worker go idle
    db.execute("UPDATE listings SET title = title || '（修订）' WHERE id = ?", (other_id,))
    db.execute(
        "INSERT INTO search_outbox (listing_id, created_at, attempts, needs_vector) VALUES (?, datetime('now'), 0, 0)",
        (other_id,),
    )
    db.commit()
    started = time.time()
    while db.execute("SELECT count(*) FROM search_outbox").fetchone()[0]:
        if time.time() - started > 120:
            print("the worker did not index another process's row within 120 s")
            break
        time.sleep(0.2)
    else:
        print(f"the idle worker indexed another process's row in {time.time() - started:.1f} s")
    print("healthz:", json.loads(urllib.request.urlopen(args.base + "/healthz").read())["status"])


if __name__ == "__main__":
    main()
