"""A BigQuery simulator: the REST endpoints `google-cloud-bigquery` calls to load Parquet by day.

It is a stand-in for tests and the sandbox, not an emulator of BigQuery: it serves, over a
`requests` transport adapter (no socket), exactly what the warehouse export uses, with the wire
formats of the BigQuery v2 API:

- `datasets.get` / `datasets.insert` (409 `duplicate` when it exists),
- `tables.get` (404 `notFound` when missing) / `tables.insert`, with `timePartitioning` and
  `clustering` kept as sent,
- `jobs.insert` by media upload: `uploadType=multipart` (the job resource as JSON, then the
  Parquet bytes; the client's choice below 5 MB) and `uploadType=resumable` (the resource, a
  session URL in `Location`, then `PUT`s with `Content-Range`, 308 until the last chunk), and
  `jobs.get`;
- `tabledata.list` (rows as `{"f": [{"v": "..."}]}`, values as strings, as the API sends them).

Load jobs behave as BigQuery documents them: `WRITE_TRUNCATE` on a partition decorator
(`table$YYYYMMDD`) replaces only that day and fails the job (`invalid`) if a row belongs to
another day; without a decorator it replaces the table; `WRITE_APPEND` appends; a Parquet column
the table lacks fails the job. Tables are held in memory as Arrow tables per day partition.
"""

from __future__ import annotations

import email.parser
import email.policy
import io
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import requests
from requests.adapters import BaseAdapter

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SANDBOX_ENDPOINT = "https://bigquery.sandbox.ownlay.invalid"
"""The `api_endpoint` a client points at to reach the simulator through its adapter."""
BASE = "/bigquery/v2/projects/(?P<project>[^/]+)"
ROUTES = [
    ("GET", re.compile(f"^{BASE}/datasets/(?P<dataset>[^/]+)$"), "get_dataset"),
    ("POST", re.compile(f"^{BASE}/datasets$"), "insert_dataset"),
    (
        "GET",
        re.compile(f"^{BASE}/datasets/(?P<dataset>[^/]+)/tables/(?P<table>[^/]+)$"),
        "get_table",
    ),
    ("POST", re.compile(f"^{BASE}/datasets/(?P<dataset>[^/]+)/tables$"), "insert_table"),
    (
        "GET",
        re.compile(f"^{BASE}/datasets/(?P<dataset>[^/]+)/tables/(?P<table>[^/]+)/data$"),
        "list_rows",
    ),
    ("POST", re.compile(f"^/upload{BASE}/jobs$"), "upload_job"),
    ("PUT", re.compile(f"^/upload{BASE}/jobs$"), "upload_chunk"),
    ("GET", re.compile(f"^{BASE}/jobs/(?P<job>[^/]+)$"), "get_job"),
]


class ApiError(Exception):
    """An error answered in BigQuery's error body shape."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message


@dataclass
class SimTable:
    """One table: its resource as created, and its rows per day partition ('' = unpartitioned)."""

    resource: dict[str, Any]
    partitions: dict[str, pa.Table] = field(default_factory=dict)

    @property
    def partition_field(self) -> str | None:
        return (self.resource.get("timePartitioning") or {}).get("field")

    def rows(self) -> pa.Table | None:
        tables = [self.partitions[key] for key in sorted(self.partitions)]
        return pa.concat_tables(tables) if tables else None


@dataclass
class BigQuerySimulator:
    """The state of the simulated service: datasets, tables and jobs of every project."""

    datasets: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    tables: dict[tuple[str, str, str], SimTable] = field(default_factory=dict)
    jobs: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    uploads: dict[str, tuple[dict[str, Any], bytearray]] = field(default_factory=dict)
    requests_seen: list[tuple[str, str]] = field(default_factory=list)

    def session(self) -> requests.Session:
        """A `requests` session whose calls to `SANDBOX_ENDPOINT` this simulator answers."""
        session = requests.Session()
        session.mount(SANDBOX_ENDPOINT, SimulatorAdapter(self))
        return session

    def table_rows(self, project: str, dataset: str, table: str) -> pa.Table | None:
        """The rows a table holds now (tests compare them with the lake)."""
        return self.tables[(project, dataset, table)].rows()

    def handle(
        self, method: str, url: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        """(status, JSON body, extra headers) of one request."""
        parts = urlsplit(url)
        self.requests_seen.append((method, parts.path))
        for route_method, pattern, handler in ROUTES:
            match = pattern.match(parts.path)
            if match and route_method == method:
                try:
                    answer = getattr(self, handler)(
                        **match.groupdict(), query=parse_qs(parts.query), headers=headers, body=body
                    )
                    return answer if isinstance(answer, tuple) else (200, answer, {})
                except ApiError as error:
                    return (
                        error.status,
                        {
                            "error": {
                                "code": error.status,
                                "message": error.message,
                                "errors": [{"reason": error.reason, "message": error.message}],
                                "status": "NOT_FOUND"
                                if error.status == 404
                                else "INVALID_ARGUMENT",
                            }
                        },
                        {},
                    )
        return 404, {"error": {"code": 404, "message": f"no route {method} {parts.path}"}}, {}

    # datasets
    def get_dataset(self, project: str, dataset: str, **_: Any) -> dict[str, Any]:
        if (project, dataset) not in self.datasets:
            raise ApiError(404, "notFound", f"Not found: Dataset {project}:{dataset}")
        return self.datasets[(project, dataset)]

    def insert_dataset(self, project: str, body: bytes, **_: Any) -> dict[str, Any]:
        resource = json.loads(body)
        dataset = resource["datasetReference"]["datasetId"]
        if (project, dataset) in self.datasets:
            raise ApiError(409, "duplicate", f"Already Exists: Dataset {project}:{dataset}")
        resource["id"] = f"{project}:{dataset}"
        self.datasets[(project, dataset)] = resource
        return resource

    # tables
    def get_table(self, project: str, dataset: str, table: str, **_: Any) -> dict[str, Any]:
        key = (project, dataset, table)
        if key not in self.tables:
            raise ApiError(404, "notFound", f"Not found: Table {project}:{dataset}.{table}")
        stored = self.tables[key]
        rows = stored.rows()
        return {**stored.resource, "numRows": str(0 if rows is None else rows.num_rows)}

    def insert_table(self, project: str, dataset: str, body: bytes, **_: Any) -> dict[str, Any]:
        self.get_dataset(project, dataset)
        resource = json.loads(body)
        table = resource["tableReference"]["tableId"]
        if (project, dataset, table) in self.tables:
            raise ApiError(409, "duplicate", f"Already Exists: Table {project}:{dataset}.{table}")
        resource["id"] = f"{project}:{dataset}.{table}"
        self.tables[(project, dataset, table)] = SimTable(resource)
        return resource

    def list_rows(self, project: str, dataset: str, table: str, query: dict, **_: Any) -> dict:
        self.get_table(project, dataset, table)
        stored = self.tables[(project, dataset, table)]
        rows = stored.rows()
        names = [f["name"] for f in stored.resource["schema"]["fields"]]
        records = [] if rows is None else rows.select(names).to_pylist()
        start = int(query.get("startIndex", ["0"])[0])
        limit = int(query.get("maxResults", [str(len(records))])[0] or len(records))
        page = records[start : start + limit]
        micros = query.get("formatOptions.useInt64Timestamp", ["false"])[0].lower() == "true"
        return {
            "kind": "bigquery#tableDataList",
            "totalRows": str(len(records)),
            "rows": [
                {"f": [{"v": _wire(record[name], micros)} for name in names]} for record in page
            ],
        }

    # jobs
    def upload_job(self, project: str, headers: dict[str, str], body: bytes, query: dict, **_: Any):
        upload_type = query.get("uploadType", [""])[0]
        if upload_type == "resumable":
            upload_id = uuid.uuid4().hex
            self.uploads[upload_id] = (json.loads(body), bytearray())
            location = (
                f"{SANDBOX_ENDPOINT}/upload/bigquery/v2/projects/{project}/jobs"
                f"?uploadType=resumable&upload_id={upload_id}"
            )
            return 200, {}, {"Location": location}
        if upload_type != "multipart":
            raise ApiError(400, "invalid", f"uploadType {upload_type!r} is not supported")
        resource, data = _multipart(headers, body)
        return self._insert_job(project, resource, data)

    def upload_chunk(
        self, project: str, headers: dict[str, str], body: bytes, query: dict, **_: Any
    ):
        upload_id = query.get("upload_id", [""])[0]
        if upload_id not in self.uploads:
            raise ApiError(404, "notFound", f"no upload session {upload_id}")
        resource, received = self.uploads[upload_id]
        content_range = next((v for k, v in headers.items() if k.lower() == "content-range"), "")
        match = re.fullmatch(r"bytes (?:(\d+)-(\d+)|\*)/(\d+|\*)", content_range)
        if match is None:
            raise ApiError(400, "invalid", f"bad Content-Range {content_range!r}")
        first, _last, total = match.groups()
        if first is not None and int(first) != len(received):
            raise ApiError(400, "invalid", f"chunk starts at {first}, expected {len(received)}")
        received.extend(body)
        if total == "*" or len(received) < int(total):
            return 308, {}, {"Range": f"bytes=0-{len(received) - 1}"}
        del self.uploads[upload_id]
        return self._insert_job(project, resource, bytes(received))

    def _insert_job(self, project: str, resource: dict[str, Any], data: bytes) -> dict[str, Any]:
        job_id = resource.get("jobReference", {}).get("jobId") or uuid.uuid4().hex
        resource["jobReference"] = {
            "projectId": project,
            "jobId": job_id,
            "location": resource.get("jobReference", {}).get("location", "US"),
        }
        try:
            self._load(resource["configuration"]["load"], data)
            resource["status"] = {"state": "DONE"}
        except ApiError as error:
            resource["status"] = {
                "state": "DONE",
                "errorResult": {"reason": error.reason, "message": error.message},
                "errors": [{"reason": error.reason, "message": error.message}],
            }
        self.jobs[(project, job_id)] = resource
        return resource

    def get_job(self, project: str, job: str, **_: Any) -> dict[str, Any]:
        if (project, job) not in self.jobs:
            raise ApiError(404, "notFound", f"Not found: Job {project}:{job}")
        return self.jobs[(project, job)]

    def _load(self, load: dict[str, Any], data: bytes) -> None:
        if load.get("sourceFormat") != "PARQUET":
            raise ApiError(400, "invalid", "only PARQUET loads are simulated")
        destination = load["destinationTable"]
        table_id, _, decorator = destination["tableId"].partition("$")
        key = (destination["projectId"], destination["datasetId"], table_id)
        if key not in self.tables:
            raise ApiError(404, "notFound", f"Not found: Table {':'.join(key)}")
        stored = self.tables[key]
        rows = pq.read_table(io.BytesIO(data))
        known = {f["name"] for f in stored.resource["schema"]["fields"]}
        unknown = sorted(set(rows.column_names) - known)
        if unknown:
            raise ApiError(400, "invalid", f"No such field(s): {', '.join(unknown)}")
        disposition = load.get("writeDisposition", "WRITE_APPEND")
        by_day = self._split_by_day(stored, rows)
        if decorator:
            wanted = date(int(decorator[:4]), int(decorator[4:6]), int(decorator[6:])).isoformat()
            strays = sorted(set(by_day) - {wanted})
            if strays:
                raise ApiError(
                    400,
                    "invalid",
                    f"Some rows belong to different partitions rather than destination "
                    f"partition {decorator}: {strays[0]}",
                )
            by_day.setdefault(wanted, rows.slice(0, 0))
        elif disposition == "WRITE_TRUNCATE":
            stored.partitions.clear()
        for day, day_rows in by_day.items():
            if disposition == "WRITE_TRUNCATE" or day not in stored.partitions:
                stored.partitions[day] = day_rows
            else:
                stored.partitions[day] = pa.concat_tables([stored.partitions[day], day_rows])

    @staticmethod
    def _split_by_day(stored: SimTable, rows: pa.Table) -> dict[str, pa.Table]:
        column = stored.partition_field
        if column is None:
            return {"": rows}
        days = rows[column].cast(pa.date32())
        return {
            day.isoformat(): rows.filter(pc.equal(days, pa.scalar(day, pa.date32())))
            for day in sorted(set(days.to_pylist()))
        }


def _multipart(headers: dict[str, str], body: bytes) -> tuple[dict[str, Any], bytes]:
    content_type = next(v for k, v in headers.items() if k.lower() == "content-type")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    parts = list(message.iter_parts())
    if len(parts) != 2:
        raise ApiError(400, "invalid", "a multipart upload has the job resource and the data")
    return json.loads(parts[0].get_payload(decode=True)), parts[1].get_payload(decode=True)


def _wire(value: Any, micros: bool) -> str | None:
    """A cell as tabledata.list sends it: a string, or null. A TIMESTAMP is epoch microseconds
    when the client asks `formatOptions.useInt64Timestamp=true`, else epoch seconds."""
    if value is None:
        return None
    if isinstance(value, datetime):
        seconds = (value - EPOCH).total_seconds()
        return str((value - EPOCH) // timedelta(microseconds=1)) if micros else str(seconds)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class SimulatorAdapter(BaseAdapter):
    """A `requests` transport adapter that hands each request to the simulator."""

    def __init__(self, simulator: BigQuerySimulator) -> None:
        super().__init__()
        self.simulator = simulator

    def send(self, request: requests.PreparedRequest, **_: Any) -> requests.Response:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        elif not isinstance(body, bytes):
            body = body.read()
        status, payload, headers = self.simulator.handle(
            request.method or "GET", request.url or "", dict(request.headers), body
        )
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(payload).encode()
        response.headers["Content-Type"] = "application/json; charset=UTF-8"
        response.headers.update(headers)
        response.url = request.url or ""
        response.request = request
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        """Nothing to release: no connection is opened."""
