"""Event lake benchmark: flush, append, backlog memory, queries and count(*), each beside its anchor.

    .venv/bin/python bench/events/run_lake_bench.py                 # full size, ~10 minutes
    .venv/bin/python bench/events/run_lake_bench.py --events 200000 --query-day-rows 50000 \
        --count-day-rows 100000                                     # quick look

1. Flush of an N-event backlog (the real `flush_buffer`, in its own process: wall time and peak
   RSS) against DuckDB `COPY … TO … (PARTITION_BY (workspace_id, event_date))` of the same rows
   from an in-memory DuckDB table (also its own process).
2. Appending 50k events to the day that now holds N rows against flushing the same 50k into an
   empty lake.
3. One-day and 30-day queries on a 30-day lake written as flush parts (1 % repeated ids) and then
   compacted by `compact_closed_days`, through the warehouse view (dedup) and the raw Hive glob,
   against the same rows in one file; plus the dedup view before compaction.
4. count(*) over a 90-day lake (one compacted file per day) through the raw glob.

Rows are synthetic but shaped like the lake schema (ids, hashes, URLs, user agents). Everything is
written to a temporary directory that is deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from ownlay_pipelines.events.compaction import (  # noqa: E402
    ROWS_PER_ROW_GROUP,
    compact_closed_days,
)
from ownlay_pipelines.events.lake_rows import EVENT_LAKE_SCHEMA  # noqa: E402
from ownlay_pipelines.events.layout import compacted_name, event_day_dir, part_path  # noqa: E402
from ownlay_pipelines.ingest.buffer import (  # noqa: E402
    connect_buffer,
    insert_pending_record,
    serialize_pending_batch,
)
from ownlay_pipelines.ingest.segments import SegmentWriter, segment_dir  # noqa: E402
from ownlay_pipelines.lake.event_views import deduplicated_events_sql  # noqa: E402

DAY = date(2026, 11, 21)
APPEND_EVENTS = 50_000


def backlog(n: int) -> list[tuple[str, int, int]]:
    """(workspace, first id, rows) of the flushed backlog: `n` rows of acme's day (the day the
    append lands on) and n/10 of globex's, so the partitioned write has two partitions."""
    return [("acme", 0, n), ("globex", n, n // 10)]


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def events_sql(first: int, count: int, workspace: str, day: date, *, timestamps: bool) -> str:
    """DuckDB SELECT of `count` synthetic lake rows (ids first..first+count-1) on `day`."""
    day_us = (datetime(day.year, day.month, day.day, tzinfo=UTC) - EPOCH) // timedelta(
        microseconds=1
    )
    at = f"({day_us} + (i - {first}) * (86399000000 // {count}))"
    stamp = f"make_timestamp({at})::TIMESTAMPTZ" if timestamps else at
    return f"""
    SELECT md5('ev' || i::VARCHAR) AS event_id, '{workspace}' AS workspace_id,
      ['page_view','page_view','page_view','add_to_cart','purchase'][i % 5 + 1] AS event_type,
      CASE WHEN i % 7 = 0 THEN 'user_' || (i % 50000)::VARCHAR END AS user_id,
      'anon_' || (hash(i) % 200000)::VARCHAR AS anonymous_id,
      'sess_' || (i // 20)::VARCHAR AS session_id, NULL::VARCHAR AS device_id,
      CASE WHEN i % 50 = 0 THEN md5('e' || i::VARCHAR) || md5('f' || i::VARCHAR) END AS email_hash,
      ['web','google_ads','meta_ads'][i % 3 + 1] AS source_platform, NULL::VARCHAR AS connector_id,
      CASE WHEN i % 3 > 0 THEN '12021000000' || (i % 40)::VARCHAR END AS campaign_id,
      CASE WHEN i % 3 > 0 THEN '12022000000' || (i % 160)::VARCHAR END AS ad_group_id,
      NULL::VARCHAR AS ad_id, NULL::VARCHAR AS keyword, NULL::VARCHAR AS placement,
      CASE WHEN i % 3 > 0 THEN 'google' END AS utm_source,
      CASE WHEN i % 3 > 0 THEN 'cpc' END AS utm_medium,
      CASE WHEN i % 3 > 0 THEN 'winter_sale_' || (i % 40)::VARCHAR END AS utm_campaign,
      NULL::VARCHAR AS utm_content, NULL::VARCHAR AS utm_term,
      '{{"value": ' || (i % 100)::VARCHAR || '}}' AS properties,
      'https://shop.example.com/products/' || (i % 500)::VARCHAR || '?utm_source=google' AS url,
      '/products/' || (i % 500)::VARCHAR AS path, 'Product ' || (i % 500)::VARCHAR AS page_title,
      'https://www.google.com/' AS referrer,
      'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 '
        || '(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1' AS user_agent,
      md5('ip' || (i % 100000)::VARCHAR) || md5('jp' || (i % 100000)::VARCHAR) AS ip_hash,
      ['mobile','desktop'][i % 2 + 1] AS device_type, 'iOS' AS os, 'Safari' AS browser,
      '390x844' AS screen_resolution, 'en-US' AS locale, 'America/New_York' AS timezone,
      'US' AS country, 'OR' AS region, 'Portland' AS city,
      {stamp} AS created_at, {stamp} AS client_timestamp, {stamp} AS received_at,
      '1.0' AS schema_version
    FROM range({first}, {first + count}) AS t(i)
    """


def fill_buffer(
    buffer_path: Path, first: int, count: int, workspace: str, day: date, batch_rows: int = 100
) -> None:
    """Put rows in the buffer as the service leaves them: one stored Arrow batch per group commit
    (here `batch_rows` events, a batch-of-100 request alone in its commit) in a segment file,
    its address row and the ids (synced once at the end, not per batch)."""
    connection = connect_buffer(buffer_path)
    segments = SegmentWriter(buffer_path)
    source = duckdb.connect()
    source.execute("SET TimeZone = 'UTC'")
    sql = events_sql(first, count, workspace, day, timestamps=True)
    table = source.sql(sql).to_arrow_table().cast(EVENT_LAKE_SCHEMA)
    connection.execute("BEGIN")
    for batch in table.to_batches(max_chunksize=batch_rows):
        received = batch.column("received_at").cast("int64")
        record = segments.append(serialize_pending_batch(batch))
        insert_pending_record(connection, record, batch.num_rows, min(received.to_pylist()))
        connection.executemany(
            "INSERT INTO event_ids VALUES (?, ?, ?)",
            zip(
                batch.column("workspace_id").to_pylist(),
                batch.column("event_id").to_pylist(),
                received.to_pylist(),
                strict=True,
            ),
        )
    segments.sync()
    segments.close()
    connection.execute("COMMIT")
    # The service's WAL is checkpointed as it goes (every 1,000 pages); leave the file that way.
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()


def buffer_size(buffer_path: Path) -> int:
    """Bytes of the buffer on disk: the SQLite file, its WAL and the segment files."""
    wal = buffer_path.with_name(buffer_path.name + "-wal")
    segments = segment_dir(buffer_path)
    return (
        buffer_path.stat().st_size
        + (wal.stat().st_size if wal.exists() else 0)
        + sum(path.stat().st_size for path in segments.iterdir() if segments.is_dir())
    )


def tree_size(folder: Path) -> int:
    """Bytes of every file under `folder`."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def in_subprocess(code: str) -> dict:
    """Run `code` (which prints a JSON object) in a fresh interpreter; add its peak RSS (MB)."""
    wrapped = (
        "import json, sys, time\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        f"{code}\n"
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent through exec.
        "status = open('/proc/self/status').read().split('VmHWM:')[1].split()[0]\n"
        "result['peak_rss_mb'] = int(status) / 1024\n"
        "print(json.dumps(result))\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", wrapped], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def timed_flush(buffer_path: Path, lake: Path) -> dict:
    return in_subprocess(
        "from pathlib import Path\n"
        "from datetime import UTC, datetime\n"
        "from ownlay_pipelines.ingest.flush import flush_buffer\n"
        "now = datetime(2026, 11, 22, tzinfo=UTC)\n"  # the ids stay in the dedupe window
        "started = time.perf_counter()\n"
        f"flushed = flush_buffer(Path({str(buffer_path)!r}), Path({str(lake)!r}), now=now)\n"
        "result = {'seconds': time.perf_counter() - started, 'rows': flushed.events_flushed}\n"
    )


def timed_duckdb_copy(count: int, out: Path) -> dict:
    halves = " UNION ALL ".join(
        f"SELECT *, DATE '{DAY}' AS event_date FROM "
        f"({events_sql(start, rows, ws, DAY, timestamps=True)})"
        for ws, start, rows in backlog(count)
    )
    return in_subprocess(
        "import duckdb\n"
        "db = duckdb.connect()\n"
        "db.execute(\"SET TimeZone = 'UTC'\")\n"
        f"db.execute({('CREATE TABLE events AS ' + halves)!r})\n"
        "started = time.perf_counter()\n"
        f"db.execute(\"COPY events TO '{out}' (FORMAT parquet, COMPRESSION snappy, "
        'PARTITION_BY (workspace_id, event_date))")\n'
        "result = {'seconds': time.perf_counter() - started, "
        "'rows': db.execute('SELECT count(*) FROM events').fetchone()[0]}\n"
    )


def best_of(runs: int, query: str, connection: duckdb.DuckDBPyConnection) -> float:
    return best_of_each(runs, {"": query}, connection)[""]


def best_of_each(
    runs: int, queries: dict[str, str], connection: duckdb.DuckDBPyConnection
) -> dict[str, float]:
    """Best wall time of each query over `runs` rounds, the queries interleaved within a round, so
    a burst of load from other work hits a query and its anchor alike."""
    timings: dict[str, list[float]] = {name: [] for name in queries}
    for _ in range(runs):
        for name, query in queries.items():
            started = time.perf_counter()
            connection.execute(query).fetchall()
            timings[name].append(time.perf_counter() - started)
    return {name: min(seconds) for name, seconds in timings.items()}


def write_query_lake(lake: Path, days: int, rows_per_day: int) -> tuple[str, Path]:
    """A `days`-day lake for workspace acme, three overlapping parts per day, then compacted."""
    db = duckdb.connect()
    db.execute("SET TimeZone = 'UTC'")
    flush_id = 1
    for n in range(days):
        day = DAY - timedelta(days=n)
        first = n * rows_per_day
        third = rows_per_day // 3
        for k in range(3):
            start = first + k * third - (rows_per_day // 100 if k else 0)  # 1 % repeated ids
            stop = first + rows_per_day if k == 2 else first + (k + 1) * third
            path = part_path(lake, "acme", day, flush_id)
            path.parent.mkdir(parents=True, exist_ok=True)
            sql = events_sql(start, stop - start, "acme", day, timestamps=True)
            db.execute(f"COPY ({sql}) TO '{path}' (FORMAT parquet, COMPRESSION snappy)")
            flush_id += 1
    glob = str(lake / "raw/events/*/*/*.parquet")
    return glob, lake


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="backlog to flush")
    parser.add_argument("--query-days", type=int, default=30)
    parser.add_argument("--query-day-rows", type=int, default=200_000)
    parser.add_argument("--count-days", type=int, default=90)
    parser.add_argument("--count-day-rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5, help="best of this many query runs")
    parser.add_argument(
        "--sections", default="flush,queries,count", help="which of flush,queries,count to run"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ownlay-lake-bench-"))
    try:
        run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: Path) -> None:
    sections = set(args.sections.split(","))
    if "flush" in sections:
        bench_flush(args, work)
    if "queries" in sections:
        bench_queries(args, work)
    if "count" in sections:
        bench_count(args, work)


def bench_flush(args: argparse.Namespace, work: Path) -> None:
    n = args.events
    print(
        f"== 1. flush of a {n * 11 // 10:,}-event backlog vs DuckDB COPY ... PARTITION_BY, same rows"
    )
    buffer_path = work / "buffer.sqlite"
    for workspace, start, rows in backlog(n):
        fill_buffer(buffer_path, start, rows, workspace, DAY)
    print(f"buffer: {buffer_size(buffer_path) / 1e6:.0f} MB before the flush")
    flush = timed_flush(buffer_path, work / "lake")
    after = buffer_size(buffer_path)
    copy = timed_duckdb_copy(n, work / "copy")
    print(
        f"flush_buffer:  {flush['rows']:>9,} rows {flush['seconds']:6.2f} s "
        f"({flush['rows'] / flush['seconds']:,.0f} rows/s) peak RSS {flush['peak_rss_mb']:.0f} MB"
    )
    print(
        f"duckdb COPY:   {copy['rows']:>9,} rows {copy['seconds']:6.2f} s "
        f"({copy['rows'] / copy['seconds']:,.0f} rows/s)"
    )
    print(f"flush / COPY speed: {copy['seconds'] / flush['seconds']:.2f}x  (budget >= 0.5x)")
    print(f"buffer after the flush: {after / 1e6:.1f} MB (file + WAL + segments)")
    print(
        f"Parquet written: ours {tree_size(work / 'lake') / 1e6:.1f} MB, "
        f"COPY {tree_size(work / 'copy') / 1e6:.1f} MB"
    )

    print(f"\n== 2. append {APPEND_EVENTS:,} events to a day holding {n:,} rows")
    fill_buffer(buffer_path, 10 * n, APPEND_EVENTS, "acme", DAY)
    append = timed_flush(buffer_path, work / "lake")
    alone_buffer = work / "alone.sqlite"
    fill_buffer(alone_buffer, 10 * n, APPEND_EVENTS, "acme", DAY)
    alone = timed_flush(alone_buffer, work / "alone-lake")
    day_rows = duckdb.execute(
        f"SELECT count(*) FROM read_parquet('{event_day_dir(work / 'lake', 'acme', DAY)}/*.parquet')"
    ).fetchone()[0]
    print(f"into the full day ({day_rows:,} rows after): {append['seconds']:.3f} s")
    print(f"into an empty lake:                         {alone['seconds']:.3f} s")
    print(f"ratio: {append['seconds'] / alone['seconds']:.2f}x  (budget <= 2x)")


def bench_queries(args: argparse.Namespace, work: Path) -> None:
    days, per_day = args.query_days, args.query_day_rows
    print(f"\n== 3. queries: {days} days x {per_day:,} rows (3 parts/day, 1 % repeats)")
    glob, lake = write_query_lake(work / "qlake", days, per_day)
    db = duckdb.connect()
    db.execute("SET TimeZone = 'UTC'")
    view = deduplicated_events_sql(glob, with_day=True)
    one_day = DAY - timedelta(days=days // 2)
    single = work / "single.parquet"
    db.execute(
        f"COPY (SELECT * EXCLUDE (event_date) FROM ({view}) ORDER BY created_at, event_id) "
        f"TO '{single}' (FORMAT parquet, COMPRESSION snappy)"
    )
    agg = "SELECT event_type, count(*), count(DISTINCT anonymous_id) FROM {src} {where} GROUP BY 1"
    day_filter = f"WHERE event_date = DATE '{one_day}'"
    time_filter = (
        f"WHERE created_at >= TIMESTAMPTZ '{one_day} 00:00:00+00' "
        f"AND created_at < TIMESTAMPTZ '{one_day + timedelta(days=1)} 00:00:00+00'"
    )
    single_src = f"read_parquet('{single}')"
    raw_src = f"read_parquet('{glob}', hive_partitioning = true)"
    view_src = f"({view})"
    before = best_of_each(
        args.runs,
        {
            "one day": agg.format(src=view_src, where=day_filter),
            "all days": agg.format(src=view_src, where=""),
        },
        db,
    )
    started = time.perf_counter()
    compact_closed_days(lake, today=DAY + timedelta(days=1), grace=timedelta(0))
    compaction_seconds = time.perf_counter() - started
    day_timings = best_of_each(
        args.runs,
        {
            "single file": agg.format(src=single_src, where=time_filter),
            "lake, raw glob": agg.format(src=raw_src, where=day_filter),
            "lake, dedup view": agg.format(src=view_src, where=day_filter),
        },
        db,
    )
    all_timings = best_of_each(
        args.runs,
        {
            "single file": agg.format(src=single_src, where=""),
            "lake, raw glob": agg.format(src=raw_src, where=""),
            "lake, dedup view": agg.format(src=view_src, where=""),
        },
        db,
    )
    results = {
        "one day": {**day_timings, "parts, dedup view": before["one day"]},
        f"{days} days": {**all_timings, "parts, dedup view": before["all days"]},
    }
    print(f"compaction of {days} days: {compaction_seconds:.1f} s")
    for name, timings in results.items():
        anchor = timings["single file"]
        for source, seconds in timings.items():
            print(f"{name:>8} {source:<18} {seconds * 1000:8.1f} ms  {seconds / anchor:5.2f}x")
    print("(lake = compacted days; parts = the same rows before compaction; budget <= 2x)")


def bench_count(args: argparse.Namespace, work: Path) -> None:
    days, per_day = args.count_days, args.count_day_rows
    print(f"\n== 4. count(*) over {days} days x {per_day:,} rows (one compacted file per day)")
    count_lake = work / "clake"
    writer = duckdb.connect()
    writer.execute("SET TimeZone = 'UTC'")
    for k in range(days):
        day = DAY - timedelta(days=k)
        path = event_day_dir(count_lake, "acme", day) / compacted_name(1, 0, 1)
        path.parent.mkdir(parents=True, exist_ok=True)
        sql = events_sql(k * per_day, per_day, "acme", day, timestamps=True)
        writer.execute(
            f"COPY ({sql}) TO '{path}' (FORMAT parquet, COMPRESSION snappy, "
            f"ROW_GROUP_SIZE {ROWS_PER_ROW_GROUP})"
        )
    count_glob = str(count_lake / "raw/events/*/*/*.parquet")
    fresh = duckdb.connect()
    started = time.perf_counter()
    (total,) = fresh.execute(f"SELECT count(*) FROM read_parquet('{count_glob}')").fetchone()
    cold = time.perf_counter() - started
    warm = best_of(args.runs, f"SELECT count(*) FROM read_parquet('{count_glob}')", fresh)
    print(
        f"count(*) = {total:,}: first {cold * 1000:.1f} ms, best of {args.runs} {warm * 1000:.1f} ms (budget <= 50 ms)"
    )


if __name__ == "__main__":
    main()
