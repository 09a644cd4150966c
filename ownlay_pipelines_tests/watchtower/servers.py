"""Loopback servers speaking the real protocols: a Discord-like webhook endpoint and SMTP.

Both bind 127.0.0.1 on a free port, run in a daemon thread and are shut down by the fixture.
The SMTP server is a minimal RFC 5321 responder on the standard library (smtpd left Python in
3.12), enough for smtplib: EHLO/HELO, MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP, QUIT.
"""

from __future__ import annotations

import json
import socketserver
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class ScriptedResponse:
    """One reply the webhook server gives, in order; the last one repeats."""

    status: int = 204
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


class WebhookServer:
    """Records every POST (path, query, JSON body) and answers from a script."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.script: deque[ScriptedResponse] = deque([ScriptedResponse()])
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                path, _, query = self.path.partition("?")
                server.requests.append(
                    {"path": path, "query": query, "json": json.loads(self.rfile.read(length))}
                )
                reply = server.script[0] if len(server.script) == 1 else server.script.popleft()
                payload = b"" if reply.body is None else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if payload:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                """Silent: the request line holds the webhook token."""

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    def url(self, webhook_id: str = "1234", token: str = "s3cr3t-token") -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/api/webhooks/{webhook_id}/{token}"

    def reply(self, *responses: ScriptedResponse) -> None:
        self.script = deque(responses)

    def __enter__(self) -> WebhookServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@dataclass
class ReceivedMail:
    """One message as the SMTP server received it."""

    mail_from: str
    recipients: list[str]
    data: bytes


class SmtpServer:
    """Accepts mail over SMTP; `refuse_recipients` makes RCPT fail with 550, `fail_data` DATA 451."""

    def __init__(self) -> None:
        self.messages: list[ReceivedMail] = []
        self.refuse_recipients = False
        self.fail_data = False
        server = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(line.encode("ascii") + b"\r\n")

            def handle(self) -> None:
                self.reply("220 localhost test SMTP")
                mail_from, recipients = "", []
                while line := self.rfile.readline(65536):
                    command = line.decode("ascii", "replace").strip()
                    verb = command[:4].upper()
                    if verb in ("EHLO", "HELO"):
                        self.reply("250 localhost")
                    elif verb == "MAIL":
                        mail_from, recipients = command.split(":", 1)[1].strip(" <>"), []
                        self.reply("250 OK")
                    elif verb == "RCPT":
                        if server.refuse_recipients:
                            self.reply("550 mailbox unavailable")
                        else:
                            recipients.append(command.split(":", 1)[1].strip(" <>"))
                            self.reply("250 OK")
                    elif verb == "DATA":
                        self.reply("354 end with <CRLF>.<CRLF>")
                        data = self._read_data()
                        if server.fail_data:
                            self.reply("451 try again later")
                        else:
                            server.messages.append(ReceivedMail(mail_from, recipients, data))
                            self.reply("250 queued")
                    elif verb in ("RSET", "NOOP"):
                        self.reply("250 OK")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("502 command not implemented")

            def _read_data(self) -> bytes:
                lines = []
                while (line := self.rfile.readline(1 << 20)) not in (b".\r\n", b""):
                    lines.append(line[1:] if line.startswith(b"..") else line)
                return b"".join(lines)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def __enter__(self) -> SmtpServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
