"""What a figure was measured on and with: the machine, its name for the results folder, versions."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
from typing import Any

from filmline.engine.cpus import affinity_cpus

_PACKAGES = ("filmline", "torch", "onnxruntime", "onnxruntime-gpu", "tensorrt", "triton", "transformers", "av",
             "numpy", "scenedetect", "opencv-python-headless", "opencv-python", "matplotlib", "ray")


def gpu_name() -> str | None:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def machine_id() -> str:
    """The results folder's machine part: the GPU's name, or `cpu-<cores>c`."""
    gpu = gpu_name()
    if gpu is None:
        return f"cpu-{affinity_cpus()}c"
    return re.sub(r"[^a-z0-9]+", "-", gpu.lower()).strip("-")


def machine_info() -> dict[str, Any]:
    """CPU model, cores, memory, GPU, OS and the load when asked (the machine may be shared)."""
    info: dict[str, Any] = {
        "id": machine_id(),
        "cpu": _cpu_model(),
        "cores": affinity_cpus(),
        "memory_gib": _memory_gib(),
        "gpu": gpu_name(),
        "os": f"{platform.system()} {platform.release()}",
    }
    if hasattr(os, "getloadavg"):
        info["load_average_1_5_15min"] = [round(x, 2) for x in os.getloadavg()]
    return info


def versions() -> dict[str, str | None]:
    """Python, every package a figure may depend on (None: not installed), FFmpeg's libraries."""
    found: dict[str, str | None] = {"python": platform.python_version()}
    for package in _PACKAGES:
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = None
    try:
        import av

        found["ffmpeg_libavcodec"] = ".".join(str(v) for v in av.library_versions["libavcodec"])
    except (ImportError, KeyError):
        found["ffmpeg_libavcodec"] = None
    import torch

    found["cuda"] = torch.version.cuda if torch.cuda.is_available() else None
    return found


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    return round(pages * page_size / 2**30, 1)
