#!/usr/bin/env python3
"""Peer of `veille bench index`: SQLite FTS5 (Python's sqlite3) on the same posts.

Reads --posts (tab-separated: id, text, author, created, brand, sentiment, language,
source), inserts them into a `posts` table (metadata, index on brand+created) and an FTS5
table over text and author (unicode61 tokenizer, diacritics removed, like veille's
ASCII folding), committing every second, up to each size of --sizes in turn; at each size
it runs the queries of --queries (JSON list: term / phrase with an FTS5 MATCH string,
faceted with column filters), each answer being what veille's search returns: the total,
the first 20 (by bm25 rank with text, newest first without) and counts per sentiment,
brand, language and source. Prints one JSON object on stdout; progress on stderr.
"""

import argparse
import json
import math
import os
import sqlite3
import sys
import time

SCHEMA = """
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE posts (
    id TEXT NOT NULL UNIQUE, author TEXT, created INTEGER,
    brand TEXT, sentiment TEXT, language TEXT, source TEXT);
CREATE INDEX posts_brand_created ON posts (brand, created);
CREATE VIRTUAL TABLE fts USING fts5(text, author, tokenize = 'unicode61 remove_diacritics 2');
"""


def percentile(samples, share):
    """Nearest rank, in milliseconds."""
    ordered = sorted(samples)
    index = min(len(ordered), max(1, math.ceil(share * len(ordered)))) - 1
    return ordered[index] * 1000.0


def run_query(db, query):
    facets = {}
    if query["kind"] in ("term", "phrase"):
        match = query["match"]
        rows = db.execute(
            "SELECT p.sentiment, p.brand, p.language, p.source, count(*) FROM fts "
            "JOIN posts p ON p.rowid = fts.rowid WHERE fts MATCH ? GROUP BY 1, 2, 3, 4",
            (match,),
        ).fetchall()
        top = db.execute(
            "SELECT p.id, fts.text FROM fts JOIN posts p ON p.rowid = fts.rowid "
            "WHERE fts MATCH ? ORDER BY fts.rank LIMIT 20",
            (match,),
        ).fetchall()
    else:
        filters = {k: v for k, v in query["filters"].items() if v is not None}
        where = " AND ".join(f"{column} = ?" for column in filters)
        values = tuple(filters.values())
        rows = db.execute(
            f"SELECT sentiment, brand, language, source, count(*) FROM posts "
            f"WHERE {where} GROUP BY 1, 2, 3, 4",
            values,
        ).fetchall()
        top = db.execute(
            f"SELECT p.id, fts.text FROM posts p JOIN fts ON fts.rowid = p.rowid "
            f"WHERE {where} ORDER BY p.created DESC LIMIT 20",
            values,
        ).fetchall()
    total = 0
    for sentiment, brand, language, source, count in rows:
        total += count
        for key, value in (("sentiment", sentiment), ("brand", brand),
                           ("language", language), ("source", source)):
            bucket = facets.setdefault(key, {})
            bucket[value] = bucket.get(value, 0) + count
    return total, len(top)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", required=True)
    parser.add_argument("--sizes", required=True)
    parser.add_argument("--queries", required=True)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--db", required=True)
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.sizes.split(","))
    with open(args.queries, encoding="utf-8") as handle:
        queries = json.load(handle)

    if os.path.exists(args.db):
        os.remove(args.db)
    db = sqlite3.connect(args.db, isolation_level=None)
    db.executescript(SCHEMA)
    stages = []
    count = 0
    with open(args.posts, encoding="utf-8") as source:
        for size in sizes:
            started = time.perf_counter()
            cpu_started = time.process_time()
            first = count
            last_commit = time.perf_counter()
            db.execute("BEGIN")
            batch = []
            while count < size:
                line = source.readline()
                if not line:
                    break
                fields = line.rstrip("\n").split("\t")
                if len(fields) != 8:
                    continue
                batch.append(fields)
                count += 1
                if len(batch) == 1000 or count == size:
                    for (post_id, text, author, created, brand, sentiment,
                         language, kind) in batch:
                        cursor = db.execute(
                            "INSERT INTO posts (id, author, created, brand, sentiment, "
                            "language, source) VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (post_id, author, int(created), brand, sentiment, language, kind),
                        )
                        db.execute(
                            "INSERT INTO fts (rowid, text, author) VALUES (?, ?, ?)",
                            (cursor.lastrowid, text, author),
                        )
                    batch.clear()
                    if time.perf_counter() - last_commit >= 1.0:
                        db.execute("COMMIT")
                        db.execute("BEGIN")
                        last_commit = time.perf_counter()
                if count % 1_000_000 == 0:
                    print(f"[sqlite] {count} posts", file=sys.stderr)
            db.execute("COMMIT")
            wall = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            db_bytes = sum(
                os.path.getsize(path)
                for path in (args.db, args.db + "-wal")
                if os.path.exists(path)
            )
            latency = {}
            totals = {}
            for kind in ("term", "phrase", "faceted"):
                selected = [q for q in queries if q["kind"] == kind]
                for query in selected:
                    run_query(db, query)
                samples = []
                hits = 0
                for position in range(args.count):
                    query = selected[position % len(selected)]
                    began = time.perf_counter()
                    total, _ = run_query(db, query)
                    samples.append(time.perf_counter() - began)
                    hits += total
                latency[kind] = {
                    "p50_ms": percentile(samples, 0.50),
                    "p99_ms": percentile(samples, 0.99),
                    "queries": len(samples),
                }
                totals[kind] = hits / max(1, args.count)
                print(f"[sqlite] {count} posts, {kind} p50 {latency[kind]['p50_ms']:.2f} ms "
                      f"p99 {latency[kind]['p99_ms']:.2f} ms", file=sys.stderr)
            ingested = count - first
            stages.append({
                "posts": count,
                "ingest_posts": ingested,
                "ingest_wall_seconds": wall,
                "ingest_cpu_seconds": cpu,
                "posts_per_second": ingested / max(wall, 1e-9),
                "posts_per_cpu_second": ingested / max(cpu, 1e-9),
                "db_bytes": db_bytes,
                "latency": latency,
                "mean_total_hits": totals,
            })
    db.close()
    json.dump({
        "tool": "SQLite FTS5 through Python sqlite3",
        "sqlite_version": sqlite3.sqlite_version,
        "python": sys.version.split()[0],
        "stages": stages,
    }, sys.stdout)
    print()


if __name__ == "__main__":
    main()
