"""The paths of the event routes: the app answers them with its raw handler (`asgi.py`) and paces
their large or chunked bodies itself (`app._read_large_body`); the HTTP protocol paces every other
request whole (`http_protocol`)."""

EVENTS_PATH = "/api/v1/events"
TRACK_PATH = "/api/v1/track"
EVENT_PATHS = frozenset({EVENTS_PATH, TRACK_PATH})
