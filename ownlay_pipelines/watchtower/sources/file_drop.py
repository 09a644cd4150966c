"""Reading a file drop: the CSV and JSON files a scraper, a bot or a person puts in a folder.

Layout: `<data_dir>/drops/<provider>/<endpoint>/`, e.g. `data/drops/scraper/cvr/`, holds any
number of `*.csv` files (a header row, UTF-8, an Excel BOM is fine) and `*.json` files (an array of
objects). Names starting with `.` are skipped, so a writer can drop `.x.tmp` and rename it. Files
are read in name order and a later row for the same record replaces an earlier one, so a newer
export corrects an older one. Every row is validated on its own (`drop_rows.py`): a bad row is
reported with its file, line, field and reason, and the good rows beside it are kept.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ownlay_pipelines.registry.tenant import SLUG_PATTERN
from ownlay_pipelines.watchtower.sources.drop_rows import DropRow

DROPS_DIR = "drops"
SUFFIXES = (".csv", ".json")


def drop_folder(data_dir: Path, provider: str, endpoint: str) -> Path:
    """The folder files of source `provider/endpoint` are dropped into."""
    return data_dir / DROPS_DIR / provider / endpoint


@dataclass(frozen=True)
class DropIssue:
    """A refused row or file: where it is, the field at fault, why, and whose row it claimed to be.

    `row` is the CSV line (the header is line 1), the JSON array position (from 1), or 0 when the
    whole file was refused.
    """

    file: str
    row: int
    field: str
    reason: str
    client_id: str | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.row} {self.field}: {self.reason}"


@dataclass
class DropRead:
    """What a drop folder holds: the files read, their valid rows in order, and every issue."""

    files: list[str] = field(default_factory=list)
    rows: list[DropRow] = field(default_factory=list)
    issues: list[DropIssue] = field(default_factory=list)


def read_drop(folder: Path, model: type[DropRow]) -> DropRead:
    """Every row of every CSV/JSON file in `folder` (none if it does not exist), validated."""
    result = DropRead()
    if not folder.is_dir():
        return result
    paths = sorted(
        p for p in folder.iterdir() if p.suffix in SUFFIXES and not p.name.startswith(".")
    )
    for path in paths:
        result.files.append(path.name)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            result.issues.append(DropIssue(path.name, 0, "file", f"is not UTF-8 text ({exc})"))
            continue
        issues: list[DropIssue] = []
        if path.suffix == ".csv":
            rows = _csv_rows(path.name, text, model, issues)
        else:
            rows = _json_rows(path.name, text, issues)
        for number, raw in rows:
            _validate(path.name, number, raw, model, result.rows, issues)
        result.issues += sorted(issues, key=lambda issue: issue.row)
    return result


def _validate(
    name: str,
    number: int,
    raw: dict[str, Any],
    model: type[DropRow],
    rows: list[DropRow],
    issues: list[DropIssue],
) -> None:
    try:
        rows.append(model.model_validate(raw))
    except ValidationError as exc:
        client = raw.get("client_id")
        # A row whose client cannot be read is nobody's: every workspace's run reports it.
        owner = client if isinstance(client, str) and SLUG_PATTERN.fullmatch(client) else None
        issues.extend(
            DropIssue(
                file=name,
                row=number,
                field=".".join(str(part) for part in error["loc"]) or "row",
                reason=error["msg"],
                client_id=owner,
            )
            for error in exc.errors()
        )


def _csv_rows(
    name: str, text: str, model: type[DropRow], issues: list[DropIssue]
) -> list[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(text.splitlines())
    header = set(reader.fieldnames or ())
    required = [n for n, f in model.model_fields.items() if f.is_required() and n not in header]
    if required:
        issues.extend(
            DropIssue(name, 1, column, "column is missing from the header; file skipped")
            for column in required
        )
        return []
    rows = []
    for raw in reader:
        if None in raw:
            issues.append(
                DropIssue(name, reader.line_num, "row", "has more cells than the header has names")
            )
            continue
        rows.append((reader.line_num, dict(raw)))
    return rows


def _json_rows(name: str, text: str, issues: list[DropIssue]) -> list[tuple[int, dict[str, Any]]]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        issues.append(DropIssue(name, 0, "file", f"is not JSON: {exc.msg} at line {exc.lineno}"))
        return []
    if not isinstance(document, list):
        issues.append(DropIssue(name, 0, "file", "must be a JSON array of row objects"))
        return []
    rows = []
    for number, item in enumerate(document, start=1):
        if isinstance(item, dict):
            rows.append((number, item))
        else:
            issues.append(DropIssue(name, number, "row", "must be a JSON object"))
    return rows
