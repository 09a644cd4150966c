"""Upload bench: `ownlay upload` of a ~100 MB costs CSV beside DuckDB's read_csv → Parquet.

Both run in their own child process (so each peak RSS is its own), alternating, `--repeats`
times; the medians and the ratios are printed, of wall time (the budget) and of CPU time (user +
system of the child during the load: steadier than wall time when other jobs share the cores). The file is a realistic US export: `MM/DD/YYYY`
dates, quoted `"$1,234.56"` money, a network column, one bad row per 10,000.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

TARGET_BYTES = 99 * 1024 * 1024
"""Just under the 100 MiB upload limit (rows are written 10,000 at a time)."""
NETWORKS = ("Pinterest", "Reddit", "Podcast", "Quora", "Taboola")

ANCHOR = """
import duckdb, json, resource, sys, time
started = time.perf_counter()
before = resource.getrusage(resource.RUSAGE_SELF)
duckdb.sql(f"COPY (SELECT * FROM read_csv('{sys.argv[1]}')) TO '{sys.argv[2]}' (FORMAT parquet)")
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": time.perf_counter() - started,
                  "cpu": usage.ru_utime + usage.ru_stime - before.ru_utime - before.ru_stime,
                  "peak_rss_mib": usage.ru_maxrss / 1024}))
"""

OURS = """
import json, resource, sys, time
from pathlib import Path
from ownlay_pipelines.registry.workspaces import parse_registry
from ownlay_pipelines.uploads.kinds import UploadKind
from ownlay_pipelines.uploads.load import load_upload
workspace = parse_registry({"workspaces": [{"id": "bench", "name": "Bench", "tier": "growth",
    "timezone": "America/New_York", "currency": "USD"}]}).workspaces[0]
started = time.perf_counter()
before = resource.getrusage(resource.RUSAGE_SELF)
[result] = load_upload(Path(sys.argv[1]), workspace=workspace, kind=UploadKind.COSTS,
                       lake_root=Path(sys.argv[2]))
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": time.perf_counter() - started, "rows": result.rows,
                  "quarantined": result.quarantined,
                  "cpu": usage.ru_utime + usage.ru_stime - before.ru_utime - before.ru_stime,
                  "peak_rss_mib": usage.ru_maxrss / 1024}))
"""


def write_costs_csv(path: Path, target_bytes: int, seed: int = 7) -> int:
    """Write the bench file; returns its number of data rows."""
    rng = random.Random(seed)
    rows = 0
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write("Date,Campaign,Network,Impressions,Clicks,Spend,Conversions,Revenue\n")
        while handle.tell() < target_bytes:
            lines = []
            for _ in range(10_000):
                rows += 1
                month, day = rng.randint(1, 12), rng.randint(1, 28)
                spend = rng.randint(100, 500_000) / 100
                spend_text = f'"${spend:,.2f}"' if rows % 10_000 else "n/a"
                lines.append(
                    f"{month:02d}/{day:02d}/2026,Campaign {rng.randint(1, 5000)},"
                    f"{rng.choice(NETWORKS)},{rng.randint(0, 900_000)},{rng.randint(0, 9_000)},"
                    f"{spend_text},{rng.randint(0, 90)},{rng.randint(0, 900_000) / 100:.2f}\n"
                )
            handle.write("".join(lines))
    return rows


def run_child(code: str, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"child failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--megabytes", type=float, default=TARGET_BYTES / 1024 / 1024)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ownlay-upload-bench-") as scratch_name:
        scratch = Path(scratch_name)
        csv_path = scratch / "costs.csv"
        rows = write_costs_csv(csv_path, int(args.megabytes * 1024 * 1024))
        size_mib = csv_path.stat().st_size / 1024 / 1024
        print(f"file: {size_mib:.1f} MiB, {rows:,} data rows")
        anchors, ours = [], []
        for repeat in range(args.repeats):
            anchors.append(
                run_child(ANCHOR, str(csv_path), str(scratch / f"anchor{repeat}.parquet"))
            )
            ours.append(run_child(OURS, str(csv_path), str(scratch / f"lake{repeat}")))
        anchor_s = statistics.median(a["seconds"] for a in anchors)
        ours_s = statistics.median(o["seconds"] for o in ours)
        anchor_cpu = statistics.median(a["cpu"] for a in anchors)
        ours_cpu = statistics.median(o["cpu"] for o in ours)
        print(
            f"duckdb read_csv → parquet: {anchor_s:.2f} s median ({anchor_cpu:.2f} CPU-s), "
            f"peak RSS {max(a['peak_rss_mib'] for a in anchors):.0f} MiB"
        )
        print(
            f"ownlay upload (costs):     {ours_s:.2f} s median ({ours_cpu:.2f} CPU-s), "
            f"peak RSS {max(o['peak_rss_mib'] for o in ours):.0f} MiB, "
            f"{ours[0]['rows']:,} rows loaded, {ours[0]['quarantined']:,} quarantined"
        )
        print(
            f"ratio: {ours_s / anchor_s:.2f}x wall, {ours_cpu / anchor_cpu:.2f}x CPU (budget ≤ 2x)"
        )


if __name__ == "__main__":
    main()
