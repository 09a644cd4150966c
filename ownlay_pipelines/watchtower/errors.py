"""Errors the watchtower raises; each message names the thing at fault and how to fix it."""

from __future__ import annotations


class WatchtowerError(Exception):
    """Base class for every watchtower refusal."""


class RuleDefinitionError(WatchtowerError, ValueError):
    """A rule cannot be stored or evaluated as written (unknown field, bad operand, bad group)."""


class UnknownTargetError(RuleDefinitionError):
    """A rule names a target table the watchtower does not watch."""


class NotFoundError(WatchtowerError, LookupError):
    """A rule, alert, source or snapshot id does not exist in the ops store."""


class TransitionError(WatchtowerError):
    """A snapshot or alert was asked to move to a state its current state does not allow."""
