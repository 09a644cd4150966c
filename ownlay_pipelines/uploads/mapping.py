"""Which file column fills which target column: suggested from header names, overridable by a file.

A mapping file (YAML) may set any of:

```yaml
columns:                # target column: header as written in the file
  spend: "Amount (EUR)"
  report_date: "Day"
defaults:               # a constant for a target the file has no column for
  platform: pinterest
  currency: EUR
date_format: "%d/%m/%Y" # strptime format for every date column (skips detection)
decimal: ","            # decimal separator for every number column (skips detection)
```

Suggestion: each header is normalised (lower case, other characters as `_`, leading and trailing
`_` dropped) and matched against each target's synonyms in order; a header fills at most one
target, and an exact target name wins over a synonym.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ownlay_pipelines.uploads.kinds import COLUMNS_BY_KIND, ONE_OF_REQUIRED, UploadKind

NON_WORD = re.compile(r"[^a-z0-9]+")


class MappingError(ValueError):
    """A mapping file or header set that cannot fill the kind's required columns."""


class MappingFile(BaseModel):
    """The overrides a user can give for one upload (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    columns: dict[str, str] = Field(default_factory=dict)
    defaults: dict[str, str] = Field(default_factory=dict)
    date_format: str | None = None
    decimal: str | None = None

    @field_validator("decimal")
    @classmethod
    def _decimal(cls, value: str | None) -> str | None:
        if value not in (None, ".", ","):
            raise ValueError("decimal must be '.' or ','")
        return value


def normalise_header(header: str) -> str:
    """`"Amount Spent (USD)"` → `amount_spent_usd`."""
    return NON_WORD.sub("_", header.strip().lower()).strip("_")


def read_mapping_file(path: Path) -> MappingFile:
    """Parse a mapping file; a clear MappingError names the file and the bad field."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return MappingFile.model_validate(document)
    except (OSError, yaml.YAMLError) as error:
        raise MappingError(f"mapping file {path}: {error}") from error
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        raise MappingError(f"mapping file {path}: {problems}") from error


def suggest_mapping(kind: UploadKind, headers: Sequence[str]) -> dict[str, int]:
    """Target column → index of the header suggested for it."""
    normalised = [normalise_header(h) for h in headers]
    taken: set[int] = set()
    chosen: dict[str, int] = {}
    targets = COLUMNS_BY_KIND[kind]
    for target in targets:  # exact target names first
        if target.name in normalised and normalised.index(target.name) not in taken:
            chosen[target.name] = normalised.index(target.name)
            taken.add(chosen[target.name])
    for target in targets:
        if target.name in chosen:
            continue
        for synonym in target.synonyms:
            index = next(
                (i for i, h in enumerate(normalised) if h == synonym and i not in taken), None
            )
            if index is not None:
                chosen[target.name] = index
                taken.add(index)
                break
    return chosen


def resolve_mapping(
    kind: UploadKind, headers: Sequence[str], overrides: MappingFile | None
) -> dict[str, int]:
    """Suggested mapping with the file's overrides applied; checks the required columns."""
    overrides = overrides or MappingFile()
    known = {t.name for t in COLUMNS_BY_KIND[kind]}
    unknown = sorted((set(overrides.columns) | set(overrides.defaults)) - known)
    if unknown:
        raise MappingError(
            f"mapping names {', '.join(unknown)}, which {kind.value} files do not have; "
            f"known columns: {', '.join(sorted(known))}"
        )
    chosen = suggest_mapping(kind, headers)
    for target, header in overrides.columns.items():
        matches = [i for i, h in enumerate(headers) if h == header]
        if not matches:
            raise MappingError(
                f"mapping: column {header!r} for {target} is not in the file's header "
                f"({', '.join(repr(h) for h in headers)})"
            )
        chosen = {t: i for t, i in chosen.items() if i != matches[0]}
        chosen[target] = matches[0]
    for target in overrides.defaults:
        chosen.pop(target, None)
    filled = set(chosen) | set(overrides.defaults)
    missing = [t.name for t in COLUMNS_BY_KIND[kind] if t.required and t.name not in filled]
    group = ONE_OF_REQUIRED.get(kind)
    if group and not filled & set(group):
        missing.append(" or ".join(group))
    if missing:
        raise MappingError(
            f"no column found for {', '.join(missing)} in header "
            f"({', '.join(repr(h) for h in headers)}); name it in a mapping file "
            "(--mapping, `columns: {target: header}`)"
        )
    return chosen
