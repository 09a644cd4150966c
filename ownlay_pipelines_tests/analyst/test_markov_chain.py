"""Markov attribution without the dense fundamental matrix (analyst/markov_chain.py): the same
numbers as inverting I − Q densely, on random chains and their edge cases, whichever channels
are eliminated and however N_KK is solved; bounded memory on many channels; a clear refusal
past the limit."""

from __future__ import annotations

import itertools
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ownlay_pipelines.analyst import markov_chain
from ownlay_pipelines.analyst.markov import markov_attribution
from ownlay_pipelines.analyst.markov_chain import MarkovTooLarge
from ownlay_pipelines.analyst.path_data import PathCounts
from ownlay_pipelines_tests.analyst.paths import random_paths
from ownlay_pipelines_tests.analyst.test_cli_paths import ownlay

REPOSITORY = Path(__file__).resolve().parents[2]


def _dense_reference(paths: PathCounts) -> tuple[float, dict[str, float]]:
    """P and the removal effects from the full fundamental matrix N = (I − Q)⁻¹, built here
    transition by transition: REᵢ = N[start, i]·xᵢ / (N[i, i]·P)."""
    size = len(paths.channels) + 1  # state 0 is (start), channel c is state c + 1
    counts = np.zeros((size, size + 2))
    for k in range(paths.path_count):
        weight = paths.conversions[k] + paths.nulls[k]
        states = [0, *(c + 1 for c in paths.touches[paths.offsets[k] : paths.offsets[k + 1]])]
        for here, there in itertools.pairwise(states):
            if here != there:
                counts[here, there] += weight
        counts[states[-1], size] += paths.conversions[k]
        counts[states[-1], size + 1] += paths.nulls[k]
    totals = counts.sum(axis=1)
    probabilities = np.divide(
        counts, totals[:, None], out=np.zeros_like(counts), where=totals[:, None] > 0
    )
    fundamental = np.linalg.inv(np.eye(size) - probabilities[:, :size])
    converts_from = fundamental @ probabilities[:, size]
    base = converts_from[0]
    effects = {}
    for c, name in enumerate(paths.channels, start=1):
        reach = fundamental[0, c] / fundamental[c, c]
        effects[name] = reach * converts_from[c] / base if base > 0 else 0.0
    return float(base), effects


def _rows(seed: int) -> list[tuple[list[str], float, float, float]]:
    """Random paths (repeats, self-loops, zero-conversion paths), with the edge cases added by
    seed: a channel only on a path of weight 0, a channel that always converts, no
    conversions at all."""
    rows = random_paths(seed, channels=2 + seed % 25, paths=5 + seed % 70, max_length=1 + seed % 8)
    if seed % 3 == 0:
        rows.append((["unseen"], 0, 0.0, 0))
        rows.append((["ch0", "unseen", "ch1"], 0, 0.0, 0))
    if seed % 4 == 0:
        rows.append((["ch0", "sure"], 3, 30.0, 0))
        rows.append((["sure"], 1, 10.0, 0))
    if seed % 5 == 0:
        rows = [(path, 0, 0.0, nulls + 1) for path, _, _, nulls in rows]
    return rows


SOLVERS = {
    "defaults": {},
    "sorted counts, 3-column blocks": {"DENSE_COUNT_CHANNELS": 0, "COLUMN_BLOCK": 3},
    "nothing eliminated, 1-column blocks": {"MAX_ELIMINATION_TRIPLES": 0, "COLUMN_BLOCK": 1},
    "few triples, 2-column blocks": {"MAX_ELIMINATION_TRIPLES": 5, "COLUMN_BLOCK": 2},
}


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("seed", range(40))
def test_removal_effects_equal_the_dense_fundamental_matrix(monkeypatch, solver, seed):
    for name, value in SOLVERS[solver].items():
        monkeypatch.setattr(markov_chain, name, value)
    paths = PathCounts.from_rows(_rows(seed))
    base, effects = _dense_reference(paths)
    result = markov_attribution(paths)
    assert result.conversion_probability == pytest.approx(base, abs=1e-12)
    assert result.removal_effects == pytest.approx(effects, abs=1e-10)
    if seed % 3 == 0:
        assert result.removal_effects["unseen"] == 0
    if seed % 4 == 0 and seed % 5:
        assert result.removal_effects["sure"] > 0
    if seed % 5 == 0:
        assert base == 0 and set(result.removal_effects.values()) == {0.0}


def test_channels_are_eliminated_and_the_rest_solved_densely():
    """The three cases the solver combines: a hub and its spokes (spokes eliminated), a dense
    clique (one member eliminated) and channels only ever first or last (eliminated)."""
    rows = [(["hub", f"s{k}", "hub"], 1, 1.0, 1) for k in range(6)]
    rows += [([a, b], 1, 1.0, 2) for a in "wxyz" for b in "wxyz" if a != b]
    rows += [(["first", "hub"], 2, 2.0, 1), (["w", "last"], 1, 1.0, 1)]
    paths = PathCounts.from_rows(rows)
    chain = markov_chain.chain_transitions(paths)
    eliminated = {
        paths.channels[c] for c in np.flatnonzero(markov_chain._independent_channels(chain))
    }
    assert {f"s{k}" for k in range(6)} | {"first", "last"} <= eliminated
    assert "hub" not in eliminated and len(eliminated & set("wxyz")) == 1
    base, effects = _dense_reference(paths)
    result = markov_attribution(paths)
    assert result.conversion_probability == pytest.approx(base, abs=1e-12)
    assert result.removal_effects == pytest.approx(effects, abs=1e-12)


DENSE_CLIQUE = "path;total_conversions;total_conversion_value;total_null\n" + "".join(
    f"{a} > {b};1;1;1\n" for a in "abcd" for b in "abcd" if a != b
)


def test_a_chain_too_dense_to_solve_is_refused_naming_the_counts(monkeypatch):
    monkeypatch.setattr(markov_chain, "MAX_CORE_CHANNELS", 2)
    rows = [([a, b], 1, 1.0, 1) for a in "abcd" for b in "abcd" if a != b]
    with pytest.raises(MarkovTooLarge) as refused:
        markov_attribution(PathCounts.from_rows(rows))
    assert str(refused.value) == (
        "markov: 3 of the 4 channels are linked too densely to eliminate; solving them "
        "exactly needs a 3 × 3 matrix (0.0 GiB), over the limit of 2 channels (0.0 GiB): "
        "group rare channels (campaigns into their source / medium, say) and run again"
    )


def test_the_command_refuses_in_one_line_and_other_models_still_run(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(markov_chain, "MAX_CORE_CHANNELS", 2)
    file = tmp_path / "paths.csv"
    file.write_text(DENSE_CLIQUE)
    status, out, err = ownlay(capsys, "attribution", "paths", str(file), "--model", "markov")
    assert (status, out) == (2, "")
    assert err.startswith(f"error: {file}: markov: 3 of the 4 channels are linked too densely")
    assert err.count("\n") == 1 and "Traceback" not in err
    status, out, err = ownlay(capsys, "attribution", "paths", str(file), "--model", "shapley")
    assert (status, err) == (0, "")


def _limit_address_space() -> None:
    # A guard for the machine, not the measure (Arrow alone reserves ~1.3 GiB of address space):
    # a dense solver fails here rather than taking ~10 GB.
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))


def test_fifteen_thousand_channels_around_a_hub_take_under_400_mb(tmp_path):
    """hub > cₖ > hub, one conversion and one null each, n spokes: from the hub a spoke is taken
    with 1/(2n), (conversion) and (null) with 1/4 each, so x_hub = 1/2 = P; without cₖ,
    x = n / (2(n + 1)), RE = 1/(n + 1); the hub's RE is 1. A dense (n + 1)² matrix alone would
    be 1.7 GiB; the whole command peaks under 400 MB."""
    n = 15_000
    file = tmp_path / "star.csv"
    lines = [f"hub > c{k:05d} > hub;1;2;1" for k in range(n)]
    file.write_text("path;total_conversions;total_conversion_value;total_null\n" + "\n".join(lines))
    command = (
        "import resource, sys; from ownlay_pipelines.cli import main; status = main(); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); "
        "sys.exit(status)"
    )
    environment = {**os.environ, "PYTHONPATH": str(REPOSITORY)}
    arguments = ["attribution", "paths", str(file), "--model", "markov", "--json"]
    done = subprocess.run(
        [sys.executable, "-c", command, *arguments],
        capture_output=True,
        text=True,
        env=environment,
        cwd=REPOSITORY,
        preexec_fn=_limit_address_space,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-600:]
    assert int(done.stderr) < 400 * 1024  # kilobytes
    effects = {row["channel"]: row["removal_effect"] for row in json.loads(done.stdout)}
    assert len(effects) == n + 1
    assert effects.pop("hub") == pytest.approx(1.0, abs=1e-9)
    assert min(effects.values()) == pytest.approx(1 / (n + 1), rel=1e-9)
    assert max(effects.values()) == pytest.approx(1 / (n + 1), rel=1e-9)
