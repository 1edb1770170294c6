"""Joining Ray: a local instance for `--workers N`, an existing cluster for `--ray-address` (or
`RAY_ADDRESS`), and how many analysis actors fit on it. Ray is optional: asking for it without it
installed is one line with the install command."""

from __future__ import annotations

import argparse
import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from filmline.engine.errors import BadInputError

INSTALL = "pip install 'filmline[cluster]'"


def ray_address(args: argparse.Namespace) -> str | None:
    return args.ray_address or os.environ.get("RAY_ADDRESS") or None


def wants_cluster(args: argparse.Namespace) -> bool:
    """The run goes to Ray: `--workers`, `--ray-address` or `RAY_ADDRESS` was given."""
    return args.workers is not None or ray_address(args) is not None


def require_ray() -> ModuleType:
    try:
        import ray
    except ImportError:
        raise BadInputError(f"--workers and --ray-address need Ray, which is not installed; {INSTALL}") from None
    return ray


@contextmanager
def joined(workers: int | None, address: str | None, config: dict[str, Any]) -> Iterator[tuple[ModuleType, int, dict[str, float]]]:
    """Ray, the number of analysis actors to start, and the resources each asks for.

    An instance this process already joined (a notebook, a test) is used as it is; one started
    here is shut down on the way out. The dashboard of a local instance is off (never exposed
    beyond localhost).
    """
    ray = require_ray()
    if address is not None and address not in ("auto", "local"):
        _check_reachable(address, config["connect_timeout_seconds"])
    started = not ray.is_initialized()
    if started and address is not None:
        ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
    elif started:
        ray.init(address="local", num_cpus=(workers or 1) * config["actor"]["num_cpus"],
                 include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    try:
        resources = ray.cluster_resources()
        gpus = resources.get("GPU", 0.0)
        per_actor = {"num_cpus": config["actor"]["num_cpus"], "num_gpus": config["actor"]["num_gpus"] if gpus else 0}
        if workers is None:  # a cluster: one actor per GPU share, else one per CPU node
            workers = int(gpus // per_actor["num_gpus"]) if gpus else len([n for n in ray.nodes() if n["Alive"]])
        yield ray, max(1, workers), per_actor
    finally:
        if started:
            ray.shutdown()


def _check_reachable(address: str, timeout: float) -> None:
    """Fail in seconds, with one line, where `ray.init` would wait on an address that never answers."""
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except (OSError, ValueError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err) or "timed out"
        raise BadInputError(
            f"--ray-address {address}: no Ray cluster answers there ({reason}); start one with `ray start --head` "
            "or pass the head node's host:port"
        ) from None
