"""First-order Markov-chain attribution, solved exactly (reference/analytics.md §1.4).

The chain: states `(start)`, one per channel, and the absorbing `(conversion)` and `(null)`.
Every path adds its weight (conversions + non-conversions) to `(start)→x₁→…→x_n`, its
conversions to `x_n→(conversion)` and its non-conversions to `x_n→(null)`; counts are
row-normalised to probabilities. Self-loops are dropped: they do not change first-order
absorption probabilities.

With Q the transient block, N = (I − Q)⁻¹ and x = N·r the probability of converting from each
state, the base conversion probability is P = x[start]. Removing channel i (every transition into
it redirected to `(null)`) leaves the probability of converting without ever visiting i:
P₋ᵢ = P − hᵢ·xᵢ, where hᵢ = N[start, i] / N[i, i] is the probability of ever reaching i (strong
Markov property at the first visit). Removal effect REᵢ = 1 − P₋ᵢ / P; credits are the removal
effects normalised to the total conversions and to the total value. One matrix inverse in all —
no simulation, so the numbers are exact and repeatable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ownlay_pipelines.analyst.path_data import ChannelCredit, PathCounts, channel_credits

START = 0


@dataclass(frozen=True)
class MarkovAttribution:
    """The chain's base conversion probability and each channel's removal effect and credit."""

    conversion_probability: float
    removal_effects: dict[str, float]
    credits: list[ChannelCredit]


def transition_counts(paths: PathCounts) -> np.ndarray:
    """Weighted transition counts: rows (start), channels; columns the same, then (conversion),
    (null). Channel c is state c + 1."""
    states = len(paths.channels) + 1
    conversion, null = states, states + 1
    path = paths.path_of_touch
    weight = (paths.conversions + paths.nulls)[path]
    source = np.empty(len(paths.touches), dtype=np.int64)
    source[1:] = paths.touches[:-1] + 1
    source[paths.offsets[:-1]] = START
    target = paths.touches + 1
    last = paths.offsets[1:] - 1
    sources = np.concatenate([source, target[last], target[last]])
    targets = np.concatenate([target, np.full(len(last), conversion), np.full(len(last), null)])
    weights = np.concatenate([weight, paths.conversions, paths.nulls])
    keep = (sources != targets) & (weights > 0)
    columns = states + 2
    flat = np.bincount(
        sources[keep] * columns + targets[keep], weights=weights[keep], minlength=states * columns
    )
    return flat.reshape(states, columns)


def markov_attribution(paths: PathCounts) -> MarkovAttribution:
    """Removal effects and credits of every channel of `paths` (see the module docstring)."""
    counts = transition_counts(paths)
    states = counts.shape[0]
    totals = counts.sum(axis=1)
    # A channel seen only on paths of weight 0 is never reached: let it absorb into (null).
    reached = totals > 0
    probabilities = np.zeros_like(counts)
    probabilities[reached] = counts[reached] / totals[reached, None]
    probabilities[~reached, states + 1] = 1.0
    fundamental = np.linalg.inv(np.eye(states) - probabilities[:, :states])
    converts_from = fundamental @ probabilities[:, states]
    base = float(converts_from[START])
    channel_states = np.arange(1, states)
    if base > 0:
        reach = fundamental[START, channel_states] / np.diag(fundamental)[channel_states]
        effects = reach * converts_from[channel_states] / base
    else:
        effects = np.zeros(states - 1)
    effects = np.clip(effects, 0.0, 1.0)  # rounding of a solved system can step past the bounds
    total_effect = effects.sum()
    share = effects / total_effect if total_effect > 0 else np.zeros_like(effects)
    credits = channel_credits(
        paths, share * paths.conversions.sum(), share * paths.value.sum(), effects
    )
    return MarkovAttribution(
        conversion_probability=base,
        removal_effects={c.channel: float(c.removal_effect or 0.0) for c in credits},
        credits=credits,
    )
