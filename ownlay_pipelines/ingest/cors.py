"""CORS for the event routes: browsers on the allowed origins may send events and read answers.

A tracking snippet on https://shop.example posting to the collector on another origin sends the
API key header and a JSON body: a request that is not "simple", so the browser first sends a
preflight (`OPTIONS` with `Origin`, `Access-Control-Request-Method` and
`Access-Control-Request-Headers`), and shows the page the real answer only if it carries
`Access-Control-Allow-Origin` (Fetch standard, https://fetch.spec.whatwg.org/#http-cors-protocol).

The allowed origins are exact serialized origins (`OWNLAY_INGEST_CORS_ORIGINS`); one is answered
with itself, never `*`. CORS keeps other sites' scripts from reading answers; it does not
authorise writes (any non-browser client can send any `Origin`) — the API key does. So a POST
from another origin is processed as before, its answer just lacks `Access-Control-Allow-Origin`.
Only the event routes take part: the webhook routes are server-to-server and keep answering
`OPTIONS` with 405.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ownlay_pipelines.ingest.errors import IngestError

CORS_ORIGINS_VARIABLE = "OWNLAY_INGEST_CORS_ORIGINS"
PREFLIGHT_MAX_AGE_SECONDS = 7200
"""How long a browser may reuse a preflight's answer: Chromium caps it at 2 h (Firefox 24 h), so
a longer value buys nothing; an origin removed from the list can keep sending for that long."""
ALLOWED_METHODS = ("POST",)
ALLOWED_REQUEST_HEADERS = ("Content-Type", "Content-Encoding", "X-Ownlay-Api-Key")
"""The request headers an event route reads: the JSON body's type, gzip/deflate, the key."""
EXPOSED_HEADERS = ("Retry-After",)
"""Answer headers a script may read beyond the safelisted ones: the wait of a 429 or 503."""
OPTIONS_ALLOW = "OPTIONS, POST"
"""The methods of an event route, for the `Allow` of an `OPTIONS` that is no preflight."""
_PREFLIGHT_VARY = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
_DEFAULT_PORTS = {"http": 80, "https": 443}
_Headers = list[tuple[bytes, bytes]]


def canonical_origin(written: str) -> str:
    """`written` if it is an origin exactly as a browser sends it in `Origin` (lower-case
    `scheme://host`, a port only when not the scheme's default, nothing after); else a
    `ValueError` saying how to write it."""
    if written == "*":
        raise ValueError(
            f"'{written}' would let every site read the answers; list each origin, comma-separated"
        )
    parts = urlsplit(written)
    if parts.scheme not in ("", *_DEFAULT_PORTS) and parts.netloc:
        raise ValueError(f"'{written}' is not an origin: its scheme must be http or https")
    try:
        port = parts.port
    except ValueError:
        port = -1
    if not parts.scheme or not parts.hostname or parts.username is not None or port == -1:
        raise ValueError(
            f"'{written}' is not an origin: write it as scheme://host[:port], "
            "e.g. https://shop.example"
        )
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname  # IPv6
    canonical = f"{parts.scheme.lower()}://{host}"
    if port is not None and port != _DEFAULT_PORTS[parts.scheme.lower()]:
        canonical += f":{port}"
    if written != canonical:
        raise ValueError(
            f"'{written}' is not an origin as browsers send it (no path, lower case, no default "
            f"port): write it '{canonical}'"
        )
    return canonical


@dataclass(frozen=True)
class CorsPolicy:
    """Which origins may read the event routes' answers, and the headers that tell them so."""

    origins: tuple[str, ...] = ()
    _answer_headers: Mapping[str, _Headers] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Encoded once: an allowed origin's POST answer only appends these.
        exposed = ", ".join(EXPOSED_HEADERS).encode()
        headers = {
            origin: [
                (b"access-control-allow-origin", origin.encode("latin-1")),
                (b"access-control-expose-headers", exposed),
                (b"vary", b"Origin"),
            ]
            for origin in self.origins
        }
        object.__setattr__(self, "_answer_headers", headers)

    def answer_headers(self, origin: str) -> _Headers | None:
        """The CORS headers of an event route's answer to a request from `origin`: for an
        allowed one `Access-Control-Allow-Origin` (itself), the exposed headers and
        `Vary: Origin`; for another only `Vary: Origin` (a cache must not hand one origin's answer
        to another); none at all while no origin is allowed (the service answers as without CORS)."""
        if not self.origins:
            return None
        return self._answer_headers.get(origin, _VARY_ONLY)

    def preflight(self, headers: Mapping[str, str]) -> tuple[int, dict[str, str]]:
        """The status and headers answering an `OPTIONS` on an event route (lower-case request
        header names): 204 allowing the origin, method and headers asked for, or an
        `IngestError` 403 naming what is not allowed (without any allow header, so the browser
        refuses the request). An `OPTIONS` that is no CORS preflight gets 204 with `Allow`."""
        origin = headers.get("origin")
        method = headers.get("access-control-request-method")
        if origin is None or method is None:
            return 204, {"Allow": OPTIONS_ALLOW}
        vary = {"Vary": _PREFLIGHT_VARY}
        if origin not in self._answer_headers:
            raise IngestError(403, "origin_not_allowed", self._refusal(origin), headers=vary)
        if method not in ALLOWED_METHODS:
            raise IngestError(
                403,
                "cors_method_not_allowed",
                f"the method '{method[:32]}' is not allowed here; event routes take POST",
                headers=vary,
            )
        for name in _header_names(headers.get("access-control-request-headers", "")):
            if name not in _ALLOWED_LOWER:
                raise IngestError(
                    403,
                    "cors_header_not_allowed",
                    f"the request header '{name[:64]}' is not allowed here; event routes take "
                    f"{', '.join(ALLOWED_REQUEST_HEADERS)}",
                    headers=vary,
                )
        return 204, {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": ", ".join(ALLOWED_METHODS),
            "Access-Control-Allow-Headers": ", ".join(ALLOWED_REQUEST_HEADERS),
            "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_SECONDS),
            **vary,
        }

    def _refusal(self, origin: str) -> str:
        if not self.origins:
            return (
                f"origin '{origin[:100]}' is not allowed: no origin is allowed to send events "
                f"from a browser until {CORS_ORIGINS_VARIABLE} lists it"
            )
        return (
            f"origin '{origin[:100]}' is not allowed to send events from a browser; "
            f"{CORS_ORIGINS_VARIABLE} lists the allowed origins"
        )


_VARY_ONLY: _Headers = [(b"vary", b"Origin")]
_ALLOWED_LOWER = frozenset(name.lower() for name in ALLOWED_REQUEST_HEADERS)


def _header_names(listed: str) -> Iterable[str]:
    """The header names of an `Access-Control-Request-Headers` value, lower-cased."""
    return (name.strip().lower() for name in listed.split(",") if name.strip())
