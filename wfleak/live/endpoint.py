"""The optional report endpoint: the watcher's report as JSON, on loopback, behind a token.

Off by default. It runs its own small HTTP server on a thread, so it answers even when the
service's event loop is busy, and never shares the service's port.
"""

from __future__ import annotations

import hmac
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from wfleak.live.options import Endpoint
from wfleak.model import Report
from wfleak.serde import to_jsonable

PATH = "/report"


class ReportServer:
    def __init__(self, endpoint: Endpoint, token: str, report: Callable[[], Report]) -> None:
        expected = f"Bearer {token}".encode()

        class Handler(BaseHTTPRequestHandler):
            server_version = "wfleak"

            def do_GET(self) -> None:
                given = self.headers.get("Authorization", "").encode()
                if not hmac.compare_digest(given, expected):
                    self._send(401, {"error": "missing or wrong bearer token"})
                elif self.path.split("?", 1)[0] != PATH:
                    self._send(404, {"error": f"not found; the report is at {PATH}"})
                else:
                    self._send(200, to_jsonable(report()))

            def _send(self, status: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status == 401:
                    self.send_header("WWW-Authenticate", "Bearer")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                return None  # the service's access log is not ours to fill

        self._server = ThreadingHTTPServer((endpoint.host, endpoint.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="wfleak-endpoint", daemon=True
        )
        self._thread.start()

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
