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
effects normalised to the total conversions and to the total value. x, N[start, ·] and diag(N)
come from analyst/markov_chain.py without forming N (memory grows with the transitions, not
with channels²) — no simulation, so the numbers are exact and repeatable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ownlay_pipelines.analyst.markov_chain import chain_transitions, solve_chain
from ownlay_pipelines.analyst.path_data import ChannelCredit, PathCounts, channel_credits


@dataclass(frozen=True)
class MarkovAttribution:
    """The chain's base conversion probability and each channel's removal effect and credit."""

    conversion_probability: float
    removal_effects: dict[str, float]
    credits: list[ChannelCredit]


def markov_attribution(paths: PathCounts) -> MarkovAttribution:
    """Removal effects and credits of every channel of `paths` (see the module docstring);
    raises MarkovTooLarge, naming the channel counts, when the chain is too densely linked to
    solve in bounded memory."""
    solution = solve_chain(chain_transitions(paths))
    base = solution.conversion_probability
    if base > 0:
        reach = solution.visits / solution.returns
        effects = reach * solution.converts_from / base
    else:
        effects = np.zeros(len(paths.channels))
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
