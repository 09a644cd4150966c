"""XLSX upload bench: peak memory and time of `ownlay upload` of a ~100 MB costs workbook.

The workbook is written straight as SpreadsheetML (zip of XML parts, shared strings and a date
style as Excel writes them), because openpyxl needs ~9 minutes for 2 M rows. Its one sheet is a
realistic cost export: a title line above the header, dates as date-formatted serials, campaign
and network names as shared strings, whole counts and money as numbers, one text cell in a money
column per 10,000 rows (quarantined). The load runs in a child process, so its peak RSS
(`ru_maxrss`) is its own.

    flock /tmp/bench.lock .venv/bin/python bench/uploads/run_xlsx_bench.py [--rows N] [--keep F]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

NETWORKS = ("Pinterest", "Reddit", "Podcast", "Quora", "Taboola")
CAMPAIGNS = 5000
DEFAULT_ROWS = 2_050_000
"""About 99 MiB with the columns below (~50 bytes a row compressed)."""

OURS = """
import json, resource, sys, time
from pathlib import Path
from ownlay_pipelines.registry.workspaces import parse_registry
from ownlay_pipelines.uploads.kinds import UploadKind
from ownlay_pipelines.uploads.load import load_upload
workspace = parse_registry({"workspaces": [{"id": "bench", "name": "Bench", "tier": "growth",
    "timezone": "America/New_York", "currency": "USD"}]}).workspaces[0]
started = time.perf_counter()
before = resource.getrusage(resource.RUSAGE_SELF)
[result] = load_upload(Path(sys.argv[1]), workspace=workspace, kind=UploadKind.COSTS,
                       lake_root=Path(sys.argv[2]))
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": round(time.perf_counter() - started, 2), "rows": result.rows,
                  "quarantined": result.quarantined,
                  "cpu": round(usage.ru_utime + usage.ru_stime - before.ru_utime
                               - before.ru_stime, 2),
                  "peak_rss_mib": round(usage.ru_maxrss / 1024)}))
"""

CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>
<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>
<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>
<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>
</Types>"""
ROOT_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>
</Relationships>"""
WORKBOOK = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">
<sheets><sheet name="Costs" sheetId="1" r:id="rId1"/></sheets>
</workbook>"""
WORKBOOK_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>
<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>
<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>
</Relationships>"""
STYLES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">
<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>
<fills count="1"><fill><patternFill patternType="none"/></fill></fills>
<borders count="1"><border/></borders>
<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>
<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>
<xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>
</styleSheet>"""
HEADER = ("Date", "Campaign", "Network", "Impressions", "Clicks", "Spend", "Conversions", "Revenue")
FIRST_SERIAL = 45658
"""2025-01-01 as an Excel serial."""


def write_costs_xlsx(path: Path, rows: int, seed: int = 7) -> None:
    """Write the bench workbook of `rows` data rows (a title line, the header, the rows)."""
    rng = random.Random(seed)
    strings = ["Spend report", *HEADER, *NETWORKS, "n/a"]
    strings += [f"Spring campaign {n}" for n in range(CAMPAIGNS)]
    index = {text: i for i, text in enumerate(strings)}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", ROOT_RELS)
        archive.writestr("xl/workbook.xml", WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        archive.writestr("xl/styles.xml", STYLES)
        shared = "".join(f"<si><t>{escape(s)}</t></si>" for s in strings)
        archive.writestr(
            "xl/sharedStrings.xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            f'count="{len(strings)}" uniqueCount="{len(strings)}">{shared}</sst>',
        )
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(
                b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                b'<sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row><row r="2">'
            )
            sheet.write(
                "".join(
                    f'<c r="{"ABCDEFGH"[i]}2" t="s"><v>{index[h]}</v></c>'
                    for i, h in enumerate(HEADER)
                ).encode()
                + b"</row>"
            )
            bad = index["n/a"]
            chunk: list[str] = []
            for n in range(rows):
                r = n + 3
                spend = f"<v>{rng.randrange(100, 500000) / 100}</v>"
                spend_cell = (
                    f'<c r="F{r}" t="s"><v>{bad}</v></c>'
                    if n % 10_000 == 9_999
                    else f'<c r="F{r}">{spend}</c>'
                )
                chunk.append(
                    f'<row r="{r}"><c r="A{r}" s="1"><v>{FIRST_SERIAL + n % 700}</v></c>'
                    f'<c r="B{r}" t="s"><v>{index[f"Spring campaign {rng.randrange(CAMPAIGNS)}"]}'
                    f'</v></c><c r="C{r}" t="s"><v>{index[rng.choice(NETWORKS)]}</v></c>'
                    f'<c r="D{r}"><v>{rng.randrange(100000)}</v></c>'
                    f'<c r="E{r}"><v>{rng.randrange(5000)}</v></c>{spend_cell}'
                    f'<c r="G{r}"><v>{rng.randrange(50)}</v></c>'
                    f'<c r="H{r}"><v>{rng.randrange(100, 2000000) / 100}</v></c></row>'
                )
                if len(chunk) == 10_000:
                    sheet.write("".join(chunk).encode())
                    chunk.clear()
            sheet.write("".join(chunk).encode() + b"</sheetData></worksheet>")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    parser.add_argument("--keep", type=Path, help="write (or reuse) the workbook at this path")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="xlsx-bench-") as scratch_name:
        scratch = Path(scratch_name)
        workbook = args.keep or scratch / "costs.xlsx"
        if not workbook.exists():
            write_costs_xlsx(workbook, args.rows)
        size_mib = workbook.stat().st_size / 1024 / 1024
        print(f"workbook: {workbook.name}, {size_mib:.1f} MiB, {args.rows:,} data rows", flush=True)
        completed = subprocess.run(
            [sys.executable, "-c", OURS, str(workbook), str(scratch / "lake")],
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            print(completed.stderr[-3000:], file=sys.stderr)
            return completed.returncode
        print(json.dumps(json.loads(completed.stdout.strip().splitlines()[-1])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
