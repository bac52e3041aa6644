"""A real HTTP webhook receiver on 127.0.0.1 (a thread): checks Standard Webhooks signatures
with the `standardwebhooks` library, fails the first N requests, records everything."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    answered: int


@dataclass
class Receiver:
    """`fail_first`: requests answered 500 before the first 2xx; `status`: later answers."""

    secrets: dict[str, str] = field(default_factory=dict)  # path -> whsec_ secret
    fail_first: int = 0
    status: int = 200
    reply: bytes = b'{"ok":true}'
    redirect_to: str = ""
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.answer(self, self.path, headers, body)

            def log_message(self, *_args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        return self

    def answer(
        self, handler: BaseHTTPRequestHandler, path: str, headers: dict[str, str], body: bytes
    ) -> None:
        secret = self.secrets.get(path.split("?", 1)[0])
        verified = False
        if secret:
            try:
                Webhook(secret).verify(body, headers)
                verified = True
            except WebhookVerificationError:
                verified = False
        with self.lock:
            failing = self.fail_first > 0
            if failing:
                self.fail_first -= 1
            code = 500 if failing else self.status
            self.received.append(Received(path, headers, body, verified, code))
        handler.send_response(code)
        if self.redirect_to and path == "/redirect":
            handler.send_header("location", self.redirect_to)
        handler.send_header("content-length", str(len(self.reply)))
        handler.end_headers()
        handler.wfile.write(self.reply)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
