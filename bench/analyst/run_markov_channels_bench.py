"""Markov (and Shapley) on path files with many channels: wall time and peak RSS per checkout.

Writes path files of `--paths` distinct-or-not random paths (1–10 touches) over N channels whose
popularity falls as 1/rank^s (`--zipf s`: campaigns, a few popular and a long tail; `--zipf 0`
is uniform), then runs `ownlay attribution paths FILE --model M --json` in a child process per
checkout (`--checkout DIR`, its code first on PYTHONPATH; a `git archive` of main works) and
reports the child's wall time, exit status, last stderr line and peak RSS (`ru_maxrss` from
`wait4`). Children get a 12 GiB address-space limit so a dense solver fails instead of taking
the machine.

    flock /tmp/bench.lock .venv/bin/python bench/analyst/run_markov_channels_bench.py \\
        --channels 1000,10000,50000 --checkout . --checkout /tmp/main-src
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ADDRESS_SPACE = 12 << 30


def write_paths(file: Path, channels: int, paths: int, zipf: float, seed: int = 7) -> None:
    """`paths` random paths over `channels` channels, popularity ∝ 1/rank^zipf."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 11, paths)
    weights = 1.0 / np.arange(1, channels + 1) ** zipf
    touches = rng.choice(channels, int(lengths.sum()), p=weights / weights.sum())
    conversions = rng.choice([0, 0, 1, 2], paths)
    nulls = rng.integers(0, 10, paths)
    names = np.array([f"campaign_{n:05d}" for n in range(channels)], dtype=object)
    ends = np.cumsum(lengths)
    with file.open("w") as handle:
        handle.write("path;total_conversions;total_conversion_value;total_null\n")
        for k, end in enumerate(ends):
            path = ">".join(names[touches[end - lengths[k] : end]])
            handle.write(f"{path};{conversions[k]};{conversions[k] * 40.5};{nulls[k]}\n")


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def run(checkout: Path, file: Path, model: str) -> tuple[float, int, float, str]:
    """Wall seconds, exit status, peak RSS (MiB) and last stderr line of one command."""
    command = "import sys; from ownlay_pipelines.cli import main; sys.exit(main())"
    arguments = ["attribution", "paths", str(file), "--model", model, "--json"]
    environment = {**os.environ, "PYTHONPATH": str(checkout.resolve())}
    started = time.perf_counter()
    with tempfile.TemporaryFile() as errors:
        child = subprocess.Popen(
            [sys.executable, "-c", command, *arguments],
            stdout=subprocess.DEVNULL,
            stderr=errors,
            env=environment,
            cwd=checkout,
            preexec_fn=_limit,
        )
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        errors.seek(0)
        lines = errors.read().decode(errors="replace").strip().splitlines()
    return seconds, os.waitstatus_to_exitcode(status), usage.ru_maxrss / 1024, (lines or [""])[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", default="1000,10000,50000")
    parser.add_argument("--paths", type=int, default=1_000_000)
    parser.add_argument("--zipf", type=float, default=1.2)
    parser.add_argument("--models", default="markov,shapley")
    parser.add_argument("--checkout", action="append", type=Path, required=True)
    args = parser.parse_args()
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    with tempfile.TemporaryDirectory(prefix="ownlay-markov-bench-") as folder:
        for channels in (int(n) for n in args.channels.split(",")):
            file = Path(folder) / f"paths_{channels}.csv"
            write_paths(file, channels, args.paths, args.zipf)
            print(f"\n{channels:,} channels, {args.paths:,} paths, zipf {args.zipf}", flush=True)
            for model in args.models.split(","):
                for checkout in args.checkout:
                    seconds, status, peak, last = run(checkout, file, model)
                    outcome = "ok" if status == 0 else f"exit {status}: {last[:160]}"
                    print(
                        f"  {model:<8} {checkout!s:<28} {seconds:>8.1f} s "
                        f"{peak:>8.0f} MiB  {outcome}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
