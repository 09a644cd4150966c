"""Credentials in the registry are names of environment variables, never values."""

from __future__ import annotations

import re

ENV_VAR_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,127}$")


def check_env_var_names(credentials: dict[str, str]) -> dict[str, str]:
    """`credentials` unchanged, or ValueError naming the credential whose value is no env var name."""
    for name, env_var in credentials.items():
        if not ENV_VAR_NAME.fullmatch(env_var):
            raise ValueError(
                f"credentials.{name} must name an environment variable (A-Z, 0-9, _), "
                f"not {env_var!r}: secrets never go in the registry file"
            )
    return credentials
