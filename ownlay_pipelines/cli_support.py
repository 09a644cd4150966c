"""Helpers shared by the `ownlay` subcommands that keep startup light and refusals clear.

Every `<area>/cli.py` builds its parser from light modules only; what needs the ops store, the
registry or DuckDB is imported inside the handler. `LazyChoices` lets an option still list and
enforce its choices when those come from a heavy module: they are loaded only when the option is
given or its help is shown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator


class Refusal(ValueError):
    """A setting or argument a command cannot use; `ownlay` prints its one-line message as
    `error: …` and exits 2, with no traceback."""


class LazyChoices:
    """An argparse `choices` container filled by `load()` on first use.

    Pass an explicit `metavar` with it (argparse would otherwise list the choices while the
    parser is built); `%(choices)s` in the help lists them when help is shown.
    """

    def __init__(self, load: Callable[[], Iterable[str]]) -> None:
        self._load = load
        self._values: list[str] | None = None

    def _choices(self) -> list[str]:
        if self._values is None:
            self._values = sorted(self._load())
        return self._values

    def __contains__(self, value: object) -> bool:
        return value in self._choices()

    def __iter__(self) -> Iterator[str]:
        return iter(self._choices())


def known_workspace(workspace_id: str) -> str:
    """`workspace_id` if the configured registry lists it; ValueError listing the known ones.

    Raises ValueError too when the id is not a slug or the registry cannot be read.
    """
    from ownlay_pipelines.registry.tenant import validate_workspace_id
    from ownlay_pipelines.registry.workspaces import load_registry
    from ownlay_pipelines.settings import Settings

    validate_workspace_id(workspace_id)
    registry_file = Settings.from_env().registry_file
    known = load_registry(registry_file).workspace_ids
    if workspace_id not in known:
        raise ValueError(
            f"unknown workspace {workspace_id!r}; the registry ({registry_file}) lists: "
            f"{', '.join(known) or '(none)'}"
        )
    return workspace_id
