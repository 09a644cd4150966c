"""GDPR erasure benchmark: deleting one person from a 90-day event lake vs rewriting the files once.

    .venv/bin/python bench/lifecycle/run_gdpr_bench.py                       # 90 days × 50k
    .venv/bin/python bench/lifecycle/run_gdpr_bench.py --events-per-day 1000000   # issue size

The lake holds `--days` days of one workspace, one compacted file per day, synthetic rows of the
lake schema (the generator of bench/events/run_lake_bench.py). One user id is given to
`--person-events` rows on each of `--person-days` days. Two identical copies are made; then

- ours: `delete_subject` (the whole erasure: suppression entry, locks, buffer, a scan of every
  file's identifier columns, the atomic rewrite of each affected file, webhook and ops stores,
  audit row) on copy A;
- anchor: on copy B, each affected file (known in advance, no scan) read, filtered and written
  once through the same atomic writer.

Both are checked to leave the same rows. Everything lives in a temporary directory deleted
afterwards. Prints one JSON object per case.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow.compute as pc
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from ownlay_pipelines.events.lake_rows import EVENT_LAKE_SCHEMA  # noqa: E402
from ownlay_pipelines.events.layout import compacted_name, event_day_dir  # noqa: E402
from ownlay_pipelines.lake.writer import write_parquet_atomically  # noqa: E402
from ownlay_pipelines.lifecycle.gdpr import delete_subject  # noqa: E402
from ownlay_pipelines.lifecycle.stores import stores_at  # noqa: E402
from ownlay_pipelines.lifecycle.subject import DataSubject, IdentifierKind  # noqa: E402
from ownlay_pipelines.privacy.keyed_hash import PiiHasher  # noqa: E402

FIRST_DAY = date(2026, 8, 1)
PERSON = "user_gdpr_subject"
HASHER = PiiHasher(b"b" * 32)


def _lake_bench_module():
    """bench/events/run_lake_bench.py, for its synthetic lake-row generator."""
    path = REPO / "bench" / "events" / "run_lake_bench.py"
    spec = importlib.util.spec_from_file_location("run_lake_bench", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_lake(
    data_dir: Path, days: int, per_day: int, person_days: int, person_events: int
) -> list[Path]:
    """Write the lake; returns the files that hold the person's rows."""
    events_sql = _lake_bench_module().events_sql
    source = duckdb.connect()
    source.execute("SET TimeZone = 'UTC'")
    affected = []
    # Spread the person's days over the whole range (first, middle, last, ...).
    step = max(days // max(person_days, 1), 1)
    person_day_numbers = {n * step for n in range(person_days)}
    for n in range(days):
        day = FIRST_DAY + timedelta(days=n)
        table = source.sql(events_sql(n * per_day, per_day, "acme", day, timestamps=True))
        table = table.to_arrow_table().cast(EVENT_LAKE_SCHEMA)
        if n in person_day_numbers:
            positions = pc.less(pc.indices_nonzero(pc.is_valid(table["event_id"])), person_events)
            user_id = pc.if_else(positions, PERSON, table["user_id"])
            table = table.set_column(table.schema.get_field_index("user_id"), "user_id", user_id)
        path = event_day_dir(data_dir / "lake", "acme", day) / compacted_name(10**12 + n, 0, 1)
        write_parquet_atomically(path, table)
        if n in person_day_numbers:
            affected.append(path)
    return affected


def rewrite_once(files: list[Path]) -> int:
    """The anchor: each affected file read, filtered and written once; returns rows removed."""
    removed = 0
    for path in files:
        table = pq.read_table(path)
        keep = pc.fill_null(pc.not_equal(table["user_id"], PERSON), True)
        removed += table.num_rows - pc.sum(keep.cast("int64")).as_py()
        write_parquet_atomically(path, table.filter(keep))
    return removed


def lake_rows(lake: Path) -> int:
    return sum(pq.ParquetFile(p).metadata.num_rows for p in lake.rglob("*.parquet"))


def run_case(root: Path, days: int, per_day: int, person_days: int, person_events: int) -> dict:
    a, b = root / "a", root / "b"
    started = time.perf_counter()
    affected = build_lake(a, days, per_day, person_days, person_events)
    build_seconds = time.perf_counter() - started
    shutil.copytree(a, b)
    stores = stores_at(a)  # opens (creates) the ops store outside the timing
    subject = DataSubject.of("acme", IdentifierKind.USER_ID, PERSON, HASHER)

    started = time.perf_counter()
    result = delete_subject(stores, subject, requested_by="bench", now=datetime.now(UTC))
    ours = time.perf_counter() - started

    anchor_files = [b / path.relative_to(a) for path in affected]
    started = time.perf_counter()
    removed = rewrite_once(anchor_files)
    anchor = time.perf_counter() - started

    assert result.counts["lake_rows"] == removed == person_days * person_events, (result, removed)
    assert lake_rows(a / "lake") == lake_rows(b / "lake") == days * per_day - removed
    return {
        "days": days,
        "events_per_day": per_day,
        "person_days": person_days,
        "person_events_per_day": person_events,
        "files_rewritten": result.counts["lake_files"],
        "delete_subject_s": round(ours, 3),
        "rewrite_affected_once_s": round(anchor, 3),
        "ratio": round(ours / anchor, 2),
        "build_s": round(build_seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--events-per-day", type=int, default=50_000)
    parser.add_argument("--person-events", type=int, default=3, help="the person's rows per day")
    parser.add_argument(
        "--person-days", default="90,1", help="cases: on how many days the person appears"
    )
    args = parser.parse_args()
    for person_days in (int(n) for n in args.person_days.split(",")):
        with tempfile.TemporaryDirectory(prefix="gdpr-bench-") as root:
            case = run_case(
                Path(root), args.days, args.events_per_day, person_days, args.person_events
            )
            print(json.dumps(case), flush=True)


if __name__ == "__main__":
    main()
