"""CloudFormation's pre-signed ResponseURL, locally: an HTTP server on 127.0.0.1.

A custom resource answers CloudFormation with a PUT to the URL its request
names. The embedded runtime, and the tests of the custom resource, hand it
this server's URL and read the answers back from ``received``.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class ResponseURL:
    """Keeps every PUT (path, headers, JSON body) until closed. Use as a context manager."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self._arrived = threading.Condition()
        received, arrived = self.received, self._arrived

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with arrived:
                    received.append(
                        {"path": self.path, "headers": dict(self.headers), "body": json.loads(body)}
                    )
                    arrived.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="response-url", daemon=True
        )
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_port}/cfn-response?X-Amz-Signature=local"

    def last(self) -> dict[str, Any]:
        """The body of the latest answer."""
        return self.received[-1]["body"]

    def answer_to(self, request_id: str, timeout: float = 60) -> dict[str, Any]:
        """The body answering the request ``request_id``; TimeoutError if none comes."""
        with self._arrived:
            found = self._arrived.wait_for(
                lambda: any(r["body"].get("RequestId") == request_id for r in self.received),
                timeout,
            )
            if not found:
                raise TimeoutError(f"no answer to custom resource request {request_id}")
            return next(
                r["body"] for r in self.received if r["body"].get("RequestId") == request_id
            )

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> ResponseURL:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
