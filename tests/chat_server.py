"""A real OpenAI-compatible chat-completions server on 127.0.0.1, for the HTTP backend's tests.

`ChatServer` is a `ThreadingHTTPServer` on a free port speaking `POST /v1/chat/completions` and
`GET /v1/models`. The test decides every answer through `responder(request, nth)`, where `nth`
counts the earlier requests that carried the same question text, so "500 twice, then an answer"
is one line. A `Reply` can be an answer, an error status with headers (Retry-After), a delay
(beyond the client's timeout), or a dropped connection. The server records every request with
its images decoded, and the most requests it held at once.
"""

from __future__ import annotations

import base64
import io
import json
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator

import numpy as np
import pytest
from PIL import Image


def closed_port() -> int:
    """A port on 127.0.0.1 that nobody listens on: a server that is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: dict[str, Any] | None = None
    headers: tuple[tuple[str, str], ...] = ()
    delay_s: float = 0.0  # wait before answering
    drop: bool = False  # close the connection without answering


@dataclass(frozen=True)
class Received:
    body: dict[str, Any]
    headers: dict[str, str]
    text: str  # the text part of the user message
    images: tuple[np.ndarray, ...]  # decoded RGB
    image_formats: tuple[str, ...]  # as Pillow reads them ("JPEG")
    at: float  # time.monotonic() on arrival


Responder = Callable[[Received, int], Reply]


def completion(text: str = "", *, completion_tokens: int | None = None,
               top_logprobs: list[tuple[str, float]] | None = None) -> Reply:
    """A chat-completion answer; `top_logprobs` gives the first token's alternatives (first = chosen)."""
    choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": text},
                              "finish_reason": "stop", "logprobs": None}
    if top_logprobs is not None:
        entries = [{"token": token, "logprob": logprob, "bytes": list(token.encode())} for token, logprob in top_logprobs]
        choice["logprobs"] = {"content": [{**entries[0], "top_logprobs": entries}]}
    tokens = len(text.split()) if completion_tokens is None else completion_tokens
    body = {"id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": "test-model",
            "choices": [choice], "usage": {"prompt_tokens": 10, "completion_tokens": tokens, "total_tokens": 10 + tokens}}
    return Reply(body=body)


def error(status: int, message: str, *, retry_after: str | None = None) -> Reply:
    headers = (("Retry-After", retry_after),) if retry_after is not None else ()
    return Reply(status=status, body={"object": "error", "message": message, "code": status}, headers=headers)


def echo(request: Received, nth: int) -> Reply:
    """The default responder: answers "saw N image(s): TEXT"."""
    return completion(f"saw {len(request.images)} image(s): {request.text}")


class ChatServer:
    """A chat-completions server the test controls; `url` is its `/v1` base."""

    def __init__(self, responder: Responder = echo, port: int = 0) -> None:
        self.responder = responder
        self._port = port
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._in_flight = 0
        self.max_in_flight = 0
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def port(self) -> int:
        assert self._httpd is not None, "start the server first"
        return self._httpd.server_address[1]

    @property
    def requests(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def count(self, text: str) -> int:
        """How many requests carried this question text."""
        return sum(request.text == text for request in self.requests)

    def start(self) -> "ChatServer":
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self._port), _handler_for(self))
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, args=(0.02,), name="chat-server", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    def _arrive(self, request: Received) -> int:
        with self._lock:
            nth = sum(earlier.text == request.text for earlier in self._received)
            self._received.append(request)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        return nth

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1


def _decode(content: list[dict[str, Any]]) -> tuple[str, tuple[np.ndarray, ...], tuple[str, ...]]:
    texts, images, formats = [], [], []
    for part in content:
        if part.get("type") == "text":
            texts.append(part["text"])
        elif part.get("type") == "image_url":
            header, _, data = part["image_url"]["url"].partition(",")
            assert header == "data:image/jpeg;base64", header
            image = Image.open(io.BytesIO(base64.b64decode(data, validate=True)))
            formats.append(image.format)
            images.append(np.asarray(image.convert("RGB")))
    return "\n".join(texts), tuple(images), tuple(formats)


def _handler_for(server: ChatServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path != "/v1/models":
                self._send(404, {"object": "error", "message": f"no route {self.path}"})
                return
            self._send(200, {"object": "list", "data": [{"id": "test-model", "object": "model"}]})

        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if self.path != "/v1/chat/completions":
                self._send(404, {"object": "error", "message": f"no route {self.path}"})
                return
            text, images, formats = _decode(body["messages"][0]["content"])
            request = Received(body, dict(self.headers.items()), text, images, formats, time.monotonic())
            nth = server._arrive(request)
            try:
                reply = server.responder(request, nth)
                time.sleep(reply.delay_s)
            finally:
                server._leave()  # before answering, so a client's next request cannot overlap this one
            if reply.drop:
                self.close_connection = True
                return
            self._send(reply.status, reply.body or {}, reply.headers)

        def _send(self, status: int, body: dict[str, Any], headers: tuple[tuple[str, str], ...] = ()) -> None:
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (its timeout); nothing to answer

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    return Handler


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    """A running `ChatServer` answering with `echo`; set `.responder` to script it."""
    server = ChatServer().start()
    yield server
    server.stop()
