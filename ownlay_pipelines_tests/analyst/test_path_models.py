"""Heuristic, Markov and Shapley credits from aggregated paths, each checked against an
independent implementation written here (exact elimination, Monte Carlo, brute-force Shapley)
and against hand-computed examples."""

from __future__ import annotations

import itertools
import math
import random
from collections import defaultdict
from fractions import Fraction

import pytest

from ownlay_pipelines.analyst.heuristic_models import first_touch, last_touch, linear
from ownlay_pipelines.analyst.markov import markov_attribution
from ownlay_pipelines.analyst.path_data import PathCounts
from ownlay_pipelines.analyst.shapley import shapley_attribution
from ownlay_pipelines_tests.analyst.paths import random_paths


def _by_channel(credits) -> dict[str, tuple[float, float]]:
    return {c.channel: (c.conversions, c.value) for c in credits}


# --- heuristics ------------------------------------------------------------------------------

HAND_ROWS = [
    (["a", "b", "a"], 3, 30.0, 1),
    (["b"], 1, 50.0, 0),
    (["c", "b"], 0, 0.0, 4),
]


def test_first_last_and_linear_by_hand():
    paths = PathCounts.from_rows(HAND_ROWS)
    assert _by_channel(first_touch(paths)) == {"a": (3, 30), "b": (1, 50), "c": (0, 0)}
    assert _by_channel(last_touch(paths)) == {"a": (3, 30), "b": (1, 50), "c": (0, 0)}
    # a>b>a: a gets 2/3 (touched twice), b 1/3.
    got = _by_channel(linear(paths))
    assert got["a"] == pytest.approx((2.0, 20.0))
    assert got["b"] == pytest.approx((2.0, 60.0))
    assert got["c"] == (0, 0)


def test_equal_paths_on_several_rows_are_summed():
    paths = PathCounts.from_rows([(["a", "b"], 1, 10, 2), (["a", "b"], 2, 5, 1), (["b"], 0, 0, 1)])
    assert paths.path_count == 2
    assert paths.path(0) == ("a", "b")
    assert (paths.conversions.tolist(), paths.value.tolist(), paths.nulls.tolist()) == (
        [3, 0],
        [15, 0],
        [3, 1],
    )


# --- Markov ----------------------------------------------------------------------------------


def test_markov_published_three_channel_example():
    """The usual worked example: C1>C2>C3 converts, C1 and C2>C3 do not.

    P = 2/3·1/2·1·1/2 + 1/3·1·1/2 = 1/3. Without C1 only start→C2→C3→conv remains (1/6), so
    RE = 0.5; C2 and C3 are on every converting route, RE = 1. Credits 0.5 : 1 : 1 of 1 conversion.
    """
    paths = PathCounts.from_rows(
        [(["C1", "C2", "C3"], 1, 100.0, 0), (["C1"], 0, 0.0, 1), (["C2", "C3"], 0, 0.0, 1)]
    )
    result = markov_attribution(paths)
    assert result.conversion_probability == pytest.approx(1 / 3, abs=1e-12)
    assert result.removal_effects == pytest.approx({"C1": 0.5, "C2": 1.0, "C3": 1.0}, abs=1e-12)
    assert _by_channel(result.credits) == {
        "C1": pytest.approx((0.2, 20.0)),
        "C2": pytest.approx((0.4, 40.0)),
        "C3": pytest.approx((0.4, 40.0)),
    }


def test_markov_without_non_conversions_removal_effect_is_the_share_of_paths_through_it():
    paths = PathCounts.from_rows([(["a", "b"], 3, 3, 0), (["a"], 1, 1, 0), (["c"], 4, 4, 0)])
    result = markov_attribution(paths)
    assert result.conversion_probability == pytest.approx(1.0)
    assert result.removal_effects == pytest.approx({"a": 0.5, "b": 3 / 8, "c": 0.5})


def test_markov_self_loops_do_not_change_removal_effects():
    plain = markov_attribution(PathCounts.from_rows([(["a", "b"], 1, 1, 1), (["b"], 0, 0, 2)]))
    looped = markov_attribution(
        PathCounts.from_rows([(["a", "a", "b", "b"], 1, 1, 1), (["b", "b"], 0, 0, 2)])
    )
    assert looped.removal_effects == pytest.approx(plain.removal_effects, abs=1e-12)


def test_markov_with_no_conversions_credits_nothing():
    result = markov_attribution(PathCounts.from_rows([(["a", "b"], 0, 0, 3)]))
    assert result.conversion_probability == 0
    assert all(c.conversions == c.value == c.removal_effect == 0 for c in result.credits)


def _chain(rows) -> dict[str, dict[str, Fraction]]:
    """Transition probabilities built independently from the rows (self-loops dropped)."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for path, conversions, _, nulls in rows:
        states = ["(start)", *path]
        for here, there in itertools.pairwise(states):
            if here != there:
                counts[here][there] += conversions + nulls
        counts[path[-1]]["(conversion)"] += conversions
        counts[path[-1]]["(null)"] += nulls
    chain = {}
    for state, row in counts.items():
        total = sum(row.values())
        if total:
            chain[state] = {t: Fraction(n, total) for t, n in row.items() if n}
    return chain


def _absorption(chain, removed: str | None) -> Fraction:
    """P(start reaches (conversion)) by exact Gauss-Jordan elimination over fractions, with
    `removed` turned into a (null) sink."""
    states = [s for s in chain if s != removed]
    index = {s: i for i, s in enumerate(states)}
    size = len(states)
    matrix = [[Fraction(int(i == j)) for j in range(size)] + [Fraction(0)] for i in range(size)]
    for state in states:
        i = index[state]
        for target, p in chain[state].items():
            if target == "(conversion)":
                matrix[i][size] += p
            elif target in index:
                matrix[i][index[target]] -= p
    for col in range(size):
        pivot = next(r for r in range(col, size) if matrix[r][col] != 0)
        matrix[col], matrix[pivot] = matrix[pivot], matrix[col]
        lead = matrix[col][col]
        matrix[col] = [v / lead for v in matrix[col]]
        for r in range(size):
            if r != col and matrix[r][col] != 0:
                factor = matrix[r][col]
                matrix[r] = [a - factor * b for a, b in zip(matrix[r], matrix[col], strict=True)]
    return matrix[index["(start)"]][size]


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_markov_matches_exact_elimination_with_each_channel_removed(seed):
    rows = random_paths(seed)
    result = markov_attribution(PathCounts.from_rows(rows))
    chain = _chain(rows)
    base = _absorption(chain, None)
    assert result.conversion_probability == pytest.approx(float(base), abs=1e-12)
    for channel, effect in result.removal_effects.items():
        expected = 1 - _absorption(chain, channel) / base
        assert effect == pytest.approx(float(expected), abs=1e-10), channel
    total = sum(r[1] for r in rows)
    assert sum(c.conversions for c in result.credits) == pytest.approx(total)


def test_markov_matches_a_monte_carlo_simulation_of_the_chain():
    rows = random_paths(11, channels=4, paths=30)
    chain = _chain(rows)
    rng = random.Random(5)
    walks = 60_000
    converted = 0
    converted_without: dict[str, int] = defaultdict(int)
    channels = {c for path, *_ in rows for c in path}
    for _ in range(walks):
        state, seen = "(start)", set()
        while state in chain:
            targets, weights = zip(*chain[state].items(), strict=True)
            state = rng.choices(targets, weights)[0]
            seen.add(state)
        if state == "(conversion)":
            converted += 1
            for channel in channels - seen:
                converted_without[channel] += 1
    result = markov_attribution(PathCounts.from_rows(rows))
    simulated_p = converted / walks
    tolerance = 4 * math.sqrt(simulated_p * (1 - simulated_p) / walks)
    assert result.conversion_probability == pytest.approx(simulated_p, abs=tolerance)
    for channel in channels:
        simulated = 1 - converted_without[channel] / converted
        assert result.removal_effects[channel] == pytest.approx(simulated, abs=0.02), channel


# --- Shapley ---------------------------------------------------------------------------------


def test_shapley_by_hand():
    """a>b: 2 conversions split a 1, b 1; a: 1 to a; b>c>b: 3 split b 1.5, c 1.5."""
    paths = PathCounts.from_rows(
        [(["a", "b"], 2, 20, 0), (["a"], 1, 10, 5), (["b", "c", "b"], 3, 60, 1)]
    )
    assert _by_channel(shapley_attribution(paths)) == {
        "a": pytest.approx((2.0, 20.0)),
        "b": pytest.approx((2.5, 40.0)),
        "c": pytest.approx((1.5, 30.0)),
    }


def _brute_force_shapley(rows, column: int) -> dict[str, float]:
    """φᵢ = Σ_S |S|!(n−|S|−1)!/n! [v(S∪{i}) − v(S)] with v(S) = Σ of paths whose distinct
    channel set is a subset of S, enumerating every coalition."""
    players = sorted({c for path, *_ in rows for c in path})
    n = len(players)
    worth_of_set: dict[frozenset, float] = defaultdict(float)
    for row in rows:
        worth_of_set[frozenset(row[0])] += row[column]

    def v(coalition: frozenset) -> float:
        return sum(w for s, w in worth_of_set.items() if s <= coalition)

    values = {}
    for player in players:
        others = [p for p in players if p != player]
        total = 0.0
        for size in range(n):
            weight = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
            for coalition in itertools.combinations(others, size):
                s = frozenset(coalition)
                total += weight * (v(s | {player}) - v(s))
        values[player] = total
    return values


@pytest.mark.parametrize("seed", [3, 7, 21])
def test_shapley_matches_brute_force_over_all_coalitions(seed):
    rows = random_paths(seed, channels=6, paths=25)
    credits = _by_channel(shapley_attribution(PathCounts.from_rows(rows)))
    conversions = _brute_force_shapley(rows, 1)
    value = _brute_force_shapley(rows, 2)
    for channel, (got_conversions, got_value) in credits.items():
        assert got_conversions == pytest.approx(conversions[channel], abs=1e-9)
        assert got_value == pytest.approx(value[channel], abs=1e-9)
