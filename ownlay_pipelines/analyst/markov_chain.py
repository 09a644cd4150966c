"""The absorbing chain of aggregated paths, solved exactly in memory that grows with its
transitions rather than with channels² (reference/analytics.md §1.4).

What the removal effects need, per channel c of Q (the channel-to-channel block of the chain,
N = (I − Q)⁻¹ its fundamental matrix): x_c, the probability of converting from c; N[start, c],
the expected visits to c; and N[c, c], the expected visits to c starting at c. Then the
probability of ever reaching c is N[start, c] / N[c, c] (strong Markov property at the first
visit) and P − P₋c = N[start, c] · x_c / N[c, c].

- N[start, c] needs no solve: every touch enters and leaves its channel once, so the counts are
  a flow and N[start, c] = (weight leaving c) / (weight leaving (start)), exactly.
- x and diag(N) come from a Schur complement. Channels no two of which are linked by a
  transition (an independent set T, picked cheapest first: most of a long tail of rare
  campaigns, whose neighbours are the popular channels) are eliminated: with A = I − Q and
  A_TT = I (self-loops are dropped), the rest K keeps S = I − Q_KK − Q_KT·Q_TK, N_KK = S⁻¹,
  x_K = S⁻¹(r_K + Q_KT·r_T), x_T = r_T + Q_TK·x_K and, for t in T,
  N[t, t] = 1 + Σ Q[t, i]·N_KK[i, j]·Q[j, t] over i after t and j before t.
- S is solved dense (LAPACK LU of a |K|² matrix, then N_KK column block by column block, only
  the entries above kept). Sparse LU was tried: on 10,000 campaigns its fill reached half the
  dense matrix and took 4 minutes, where the dense LU takes seconds. So memory is
  O(transitions + |K|²), and a chain whose K exceeds `MAX_CORE_CHANNELS` is refused up front.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import lapack

from ownlay_pipelines.analyst.path_data import PathCounts

# The densest part of the chain this solves: S is |K|² doubles (12,000 → 1.1 GB) and its LU and
# inverse columns take ~2.7·|K|³ flops (about two minutes on 2 cores at 12,000).
MAX_CORE_CHANNELS = 12_000
# The (t, i, j) triples of the eliminated channels are kept until N_KK's columns are known
# (20 bytes each); past this many, the channels with the most go to K instead.
MAX_ELIMINATION_TRIPLES = 8_000_000
# N_KK is solved this many columns at a time (m × 256 doubles of work space).
COLUMN_BLOCK = 256
# Up to this many channels, transitions are counted in a dense (channels + 1)² array (a bincount,
# faster than sorting 7M keys); past it, by sorting.
DENSE_COUNT_CHANNELS = 2_000


class MarkovTooLarge(ValueError):
    """The chain's densely linked part is too large to solve exactly in bounded memory."""


@dataclass(frozen=True)
class ChainTransitions:
    """The chain's aggregated weights: channel → channel (`source`, `target`, `weight`, one entry
    per distinct pair, self-loops dropped), (start) → channel (`from_start`), and per channel its
    conversions (`to_conversion`) and total weight leaving it (`leaving`)."""

    channels: int
    source: np.ndarray
    target: np.ndarray
    weight: np.ndarray
    from_start: np.ndarray
    to_conversion: np.ndarray
    leaving: np.ndarray


@dataclass(frozen=True)
class ChainSolution:
    """Per channel: x, the probability of converting from it; visits, N[start, c]; returns,
    N[c, c]. `conversion_probability` is P, from (start)."""

    conversion_probability: float
    converts_from: np.ndarray
    visits: np.ndarray
    returns: np.ndarray


def chain_transitions(paths: PathCounts) -> ChainTransitions:
    """Every path adds its conversions + nulls to (start)→x₁→…→x_n, its conversions to
    x_n→(conversion) and its nulls to x_n→(null); paths of weight 0 add nothing."""
    size = len(paths.channels)
    weight_of_path = paths.conversions + paths.nulls
    weight = weight_of_path[paths.path_of_touch]
    first, last = paths.offsets[:-1], paths.offsets[1:] - 1
    from_start = np.bincount(paths.touches[first], weights=weight_of_path, minlength=size)
    last_touch = paths.touches[last]
    to_conversion = np.bincount(last_touch, weights=paths.conversions, minlength=size)
    to_null = np.bincount(last_touch, weights=paths.nulls, minlength=size)
    # Touch k → touch k + 1 within a path: every touch but each path's last.
    inner = np.ones(len(paths.touches), dtype=bool)
    inner[last] = False
    source, target = paths.touches[inner], paths.touches[1:][inner[:-1]]
    weight = weight[inner]
    keep = (source != target) & (weight > 0)
    keys = source[keep] * size + target[keep]
    weight = weight[keep]
    if size <= DENSE_COUNT_CHANNELS:
        flat = np.bincount(keys, weights=weight, minlength=size * size)
        keys = np.flatnonzero(flat)
        summed = flat[keys]
    else:
        order = np.argsort(keys, kind="stable")
        keys, weight = keys[order], weight[order]
        starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))[: len(keys)]
        summed = np.add.reduceat(weight, starts) if len(keys) else weight
        keys = keys[starts]
    source, target = np.divmod(keys, size)
    leaving = np.bincount(source, weights=summed, minlength=size) + to_conversion + to_null
    return ChainTransitions(size, source, target, summed, from_start, to_conversion, leaving)


def solve_chain(chain: ChainTransitions) -> ChainSolution:
    """x, N[start, ·] and diag(N) of the chain (see the module docstring); raises MarkovTooLarge
    before allocating anything of |K|² when K exceeds MAX_CORE_CHANNELS."""
    size = chain.channels
    start_total = chain.from_start.sum()
    reached = chain.leaving > 0
    # A channel seen only on paths of weight 0 is never reached: no row, absorbed into (null).
    per_unit = np.divide(1.0, chain.leaving, out=np.zeros(size), where=reached)
    probability = chain.weight * per_unit[chain.source]
    converts = chain.to_conversion * per_unit
    eliminated = _independent_channels(chain)
    core = np.flatnonzero(~eliminated)
    if len(core) > MAX_CORE_CHANNELS:
        raise MarkovTooLarge(
            f"markov: {len(core):,} of the {size:,} channels are linked too densely to "
            f"eliminate; solving them exactly needs a {len(core):,} × {len(core):,} matrix "
            f"({_gibibytes(len(core))}), over the limit of {MAX_CORE_CHANNELS:,} channels "
            f"({_gibibytes(MAX_CORE_CHANNELS)}): group rare channels (campaigns into their "
            "source / medium, say) and run again"
        )
    position = np.full(size, -1, dtype=np.int64)
    position[core] = np.arange(len(core))
    triples = _elimination_triples(chain, eliminated, probability)
    converts_from, returns = _solve_core(chain, probability, converts, position, triples)
    visits = chain.leaving / start_total if start_total > 0 else np.zeros(size)
    base = float(chain.from_start @ converts_from / start_total) if start_total > 0 else 0.0
    return ChainSolution(base, converts_from, visits, returns)


def _gibibytes(core: int) -> str:
    return f"{core * core * 8 / 2**30:.1f} GiB"


def _independent_channels(chain: ChainTransitions) -> np.ndarray:
    """A set of channels no two of which share a transition (either way), the ones with the
    fewest in × out neighbours first, within MAX_ELIMINATION_TRIPLES triples.

    Rounds of "every undecided channel ranked below all its undecided neighbours joins; its
    neighbours leave": with fixed ranks that is the greedy choice in rank order, vectorised."""
    size = chain.channels
    into = np.bincount(chain.target, minlength=size)
    out_of = np.bincount(chain.source, minlength=size)
    cost = into * out_of
    rank = np.empty(size, dtype=np.int64)
    rank[np.lexsort((np.arange(size), cost))] = np.arange(size)
    one = np.concatenate([chain.source, chain.target])
    other = np.concatenate([chain.target, chain.source])
    undecided = np.ones(size, dtype=bool)
    chosen = np.zeros(size, dtype=bool)
    for _ in range(64):
        if not undecided.any():
            break
        live = undecided[one] & undecided[other]
        lowest_neighbour = np.full(size, size, dtype=np.int64)
        np.minimum.at(lowest_neighbour, one[live], rank[other[live]])
        joins = undecided & (rank < lowest_neighbour)
        chosen |= joins
        undecided &= ~joins
        undecided[other[joins[one]]] = False
    picked = np.flatnonzero(chosen)
    cheapest_first = picked[np.argsort(cost[picked], kind="stable")]
    chosen[cheapest_first[np.cumsum(cost[cheapest_first]) > MAX_ELIMINATION_TRIPLES]] = False
    return chosen


@dataclass(frozen=True)
class _Triples:
    """For eliminated channel `channel`: i = `after` (a successor), j = `before` (a predecessor),
    `weight` = Q[j, t]·Q[t, i]; sorted by `before`."""

    channel: np.ndarray
    after: np.ndarray
    before: np.ndarray
    weight: np.ndarray


def _elimination_triples(
    chain: ChainTransitions, eliminated: np.ndarray, probability: np.ndarray
) -> _Triples:
    """Every (t, i, j) with j → t → i a pair of transitions and t eliminated."""
    by_source = np.argsort(chain.source, kind="stable")
    by_target = np.argsort(chain.target, kind="stable")
    out_start = np.searchsorted(chain.source[by_source], np.arange(chain.channels + 1))
    in_start = np.searchsorted(chain.target[by_target], np.arange(chain.channels + 1))
    channel = np.flatnonzero(eliminated)
    into = in_start[channel + 1] - in_start[channel]
    out_of = out_start[channel + 1] - out_start[channel]
    count = into * out_of
    which = np.repeat(np.arange(len(channel)), count)
    offsets = np.concatenate(([0], np.cumsum(count)))
    within = np.arange(offsets[-1]) - offsets[which]
    in_edge = by_target[in_start[channel[which]] + within // out_of[which]]
    out_edge = by_source[out_start[channel[which]] + within % out_of[which]]
    before = chain.source[in_edge]
    order = np.argsort(before, kind="stable")
    return _Triples(
        channel=channel[which][order].astype(np.int32),
        after=chain.target[out_edge][order].astype(np.int32),
        before=before[order].astype(np.int32),
        weight=(probability[in_edge] * probability[out_edge])[order],
    )


def _solve_core(
    chain: ChainTransitions,
    probability: np.ndarray,
    converts: np.ndarray,
    position: np.ndarray,
    triples: _Triples,
) -> tuple[np.ndarray, np.ndarray]:
    """x and diag(N) for every channel, from the Schur complement S on the core (position ≥ 0)."""
    size = chain.channels
    m = int((position >= 0).sum())
    source_core, target_core = position[chain.source], position[chain.target]
    both = (source_core >= 0) & (target_core >= 0)
    schur = np.zeros((m, m))
    schur[np.arange(m), np.arange(m)] = 1.0
    schur[source_core[both], target_core[both]] -= probability[both]
    np.subtract.at(schur, (position[triples.before], position[triples.after]), triples.weight)
    into_eliminated = (source_core >= 0) & (target_core < 0)
    core_converts = converts[position >= 0] + np.bincount(
        source_core[into_eliminated],
        weights=probability[into_eliminated] * converts[chain.target[into_eliminated]],
        minlength=m,
    )
    converts_from = converts.copy()
    returns = np.ones(size)
    if m:
        # S is C-ordered, so S.T is S transposed in Fortran order: LAPACK factors it in place.
        lu, pivots, info = lapack.dgetrf(schur.T, overwrite_a=1)
        if info != 0:  # every reached channel leads to an absorbing state, so S is invertible
            raise ArithmeticError(f"markov: the chain's matrix is singular (LAPACK info {info})")
        core_x, _ = lapack.dgetrs(lu, pivots, core_converts, trans=1)
        converts_from[position >= 0] = core_x
        core_returns, sums = _core_inverse_entries(lu, pivots, triples, position, size)
        returns[position >= 0] = core_returns
        returns += sums
    into_core = (source_core < 0) & (target_core >= 0)
    converts_from += np.bincount(
        chain.source[into_core],
        weights=probability[into_core] * converts_from[chain.target[into_core]],
        minlength=size,
    )
    return converts_from, returns


def _core_inverse_entries(
    lu: np.ndarray, pivots: np.ndarray, triples: _Triples, position: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """diag(N_KK), and per channel Σ weight·N_KK[i, j] over its triples, solving N_KK a block of
    COLUMN_BLOCK columns at a time (S N_KK = I) and keeping only those entries."""
    m = lu.shape[0]
    diagonal = np.empty(m)
    sums = np.zeros(size)
    before = position[triples.before]
    after = position[triples.after]
    bounds = np.searchsorted(before, np.arange(0, m + COLUMN_BLOCK, COLUMN_BLOCK))
    for block, first in enumerate(range(0, m, COLUMN_BLOCK)):
        width = min(COLUMN_BLOCK, m - first)
        unit = np.zeros((m, width), order="F")
        unit[first + np.arange(width), np.arange(width)] = 1.0
        columns, _ = lapack.dgetrs(lu, pivots, unit, trans=1, overwrite_b=1)
        diagonal[first : first + width] = columns[first + np.arange(width), np.arange(width)]
        low, high = bounds[block], bounds[block + 1]
        entries = columns[after[low:high], before[low:high] - first]
        sums += np.bincount(
            triples.channel[low:high], weights=triples.weight[low:high] * entries, minlength=size
        )
    return diagonal, sums
