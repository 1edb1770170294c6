"""Joining Ray: a local instance for `--workers N`, an existing cluster for `--ray-address` (or
`RAY_ADDRESS`), and how many analysis (and caption) actors fit on it. Ray is optional: asking for it without it
installed is one line with the install command."""

from __future__ import annotations

import argparse
import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Placement:
    """How many actors of each pool to start, and what each asks Ray for (`num_cpus`, `num_gpus`)."""

    workers: int  # analysis actors
    worker: dict[str, float]
    captioners: int  # caption actors (--vlm in its own pool; 0: the analysis actors caption)
    captioner: dict[str, float]


@contextmanager
def joined(workers: int | None, address: str | None, config: dict[str, Any],
           vlm_backend: str | None) -> Iterator[tuple[ModuleType, Placement]]:
    """Ray and the actors to start on it.

    An instance this process already joined (a notebook, a test) is used as it is; one started
    here is shut down on the way out. The dashboard of a local instance is off (never exposed
    beyond localhost).
    """
    ray = require_ray()
    if address is not None and address not in ("auto", "local"):
        _check_reachable(address, config["connect_timeout_seconds"])
    captioners = config["vlm"]["actors"] if vlm_backend is not None else 0
    started = not ray.is_initialized()
    if started and address is not None:
        ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
    elif started:
        cpus = (workers or 1) * config["actor"]["num_cpus"] + captioners * config["vlm"]["num_cpus"]
        ray.init(address="local", num_cpus=cpus, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    try:
        yield ray, _place(ray, workers, config, captioners, vlm_backend)
    finally:
        if started:
            ray.shutdown()


def _place(ray: ModuleType, workers: int | None, config: dict[str, Any], captioners: int,
           vlm_backend: str | None) -> Placement:
    """One analysis actor per GPU share (after the caption actors' shares), or one per CPU node;
    `--workers N` actors share the GPUs there are. Asking for more than the cluster has is one
    line, not a wait without end."""
    resources = ray.cluster_resources()
    gpus = resources.get("GPU", 0.0)
    worker = {"num_cpus": config["actor"]["num_cpus"], "num_gpus": config["actor"]["num_gpus"] if gpus else 0}
    captioner = {"num_cpus": config["vlm"]["num_cpus"],
                 "num_gpus": config["vlm"]["num_gpus"] if gpus and vlm_backend != "openai" else 0}
    left = gpus - captioners * captioner["num_gpus"]
    if gpus and left <= 0:
        raise BadInputError(f"the {captioners} caption actors ask for all {gpus:g} GPUs, leaving none to analyse; "
                            "lower vlm.num_gpus or vlm.actors in configs/library.yaml")
    if workers is None:  # a cluster
        workers = max(1, int(left // worker["num_gpus"]) if gpus else len([n for n in ray.nodes() if n["Alive"]]))
    elif gpus:
        worker["num_gpus"] = min(worker["num_gpus"], left / workers)
    cpus = workers * worker["num_cpus"] + captioners * captioner["num_cpus"]
    if cpus > resources.get("CPU", 0.0):
        actors = _count(workers, "analysis actor") + (f" and {_count(captioners, 'caption actor')}" if captioners else "")
        raise BadInputError(f"{actors} ask for {cpus:g} CPUs and Ray has {resources.get('CPU', 0.0):g}; "
                            "lower --workers or num_cpus in configs/library.yaml")
    return Placement(workers, worker, captioners, captioner)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


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
