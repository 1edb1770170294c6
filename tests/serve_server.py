"""`engine-serve` in a child process on a free localhost port, and a small JSON client for it:
what the service's API and page tests share."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """One `engine-serve` process; `restart()` stops it (SIGTERM) and starts it on the same folder."""

    def __init__(self, root: Path, state: Path, *flags: str, home: Path) -> None:
        self.root, self.state, self.flags = root, state, flags
        self.env = {**os.environ, "ENGINE_HOME": str(home), "HF_HUB_OFFLINE": "1"}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def command(self, *extra: str) -> list[str]:
        return [sys.executable, "-m", "filmline.engine.serve.cli", "--root", str(self.root), "--state", str(self.state),
                "--port", str(self.port), *self.flags, *extra]

    def start(self) -> "Server":
        self.process = subprocess.Popen(self.command(), env=self.env, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"engine-serve exited: {self.process.stderr.read()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("engine-serve did not start within 60 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def call(self, method: str, path: str, body: Any = None, *, data: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """(status, parsed JSON body, or the raw bytes for anything that is not JSON)."""
        if body is not None:
            data = json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, content, kind = response.status, response.read(), response.headers.get_content_type()
        except urllib.error.HTTPError as err:
            status, content, kind = err.code, err.read(), err.headers.get_content_type()
        return status, json.loads(content) if kind == "application/json" else content

    def wait(self, job_id: str, until: tuple[str, ...], timeout: float = 60,
             frames: bool = False) -> dict[str, Any]:
        """Poll the job until its state is one of `until` (and, with `frames`, some frames are done)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, job = self.call("GET", f"/jobs/{job_id}")
            assert status == 200, job
            if job["state"] in until and (not frames or job["frames_done"] > 0):
                return job
            time.sleep(0.05)
        raise AssertionError(f"job {job_id} still {job['state']} after {timeout} s")
