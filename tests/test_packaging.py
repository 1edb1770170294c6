"""The installed package lives beside other distributions: everything imports as `filmline.*`, from
any folder, and Hugging Face's `kernels` (which transformers uses) can share the environment."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from filmline.benchmarks.synthetic import write_film

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_FOLDERS = ("filmline", "engine", "export", "kernels", "benchmarks")  # what installs as filmline.*
OLD_NAMES = {"engine", "export", "kernels", "benchmarks", "configs"}  # top-level names before filmline.*

# Lists every module of the installed package and imports each; prints the ones that fail.
IMPORT_ALL = """
import importlib, json, pkgutil, sys
names = ["filmline"]
for package in ("filmline.engine", "filmline.export", "filmline.kernels", "filmline.benchmarks"):
    names.append(package)
    names += [m.name for m in pkgutil.walk_packages(importlib.import_module(package).__path__, package + ".")]
names += [m.name for m in pkgutil.iter_modules(importlib.import_module("filmline").__path__, "filmline.")]
failed = {}
for name in sorted(set(names)):
    try:
        importlib.import_module(name)
    except ImportError as err:
        failed[name] = f"{type(err).__name__}: {err}"
print(json.dumps({"imported": len(set(names)), "failed": failed}))
"""
OPTIONAL = {"tensorrt", "fastapi"}  # the gpu and serve extras; their modules may fail to import where they are not installed


def outside_checkout_env() -> dict[str, str]:
    """The environment of a user's shell: nothing from this checkout on the import path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ENGINE_CONFIG")}  # ENGINE_CONFIG: the suite's (conftest.py)
    env["PYTHONSAFEPATH"] = "1"  # `python -c` would otherwise put the working folder first
    return env


def test_every_module_imports_from_another_folder(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", IMPORT_ALL], cwd=tmp_path, env=outside_checkout_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["imported"] > 50
    unexpected = {name: why for name, why in report["failed"].items()
                  if not any(f"No module named '{optional}" in why for optional in OPTIONAL)}
    assert not unexpected


def test_no_module_imports_a_top_level_name_of_ours() -> None:
    """`import kernels` in our code would load Hugging Face's package where both are installed."""
    offenders = []
    for folder in PACKAGE_FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else []
                offenders += [f"{path.relative_to(ROOT)}:{node.lineno}: {name}"
                              for name in names if name.split(".")[0] in OLD_NAMES]
    assert not offenders


def installed(distribution: str) -> bool:
    try:
        metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


@pytest.mark.skipif(not installed("kernels"), reason="Hugging Face's kernels is not installed: pip install -e '.[test]'")
def test_engine_run_works_beside_hugging_face_kernels(tmp_path: Path) -> None:
    film = write_film(tmp_path / "clip.mkv", [30, 30], size=(160, 96), seed=1)
    check = "import kernels; assert hasattr(kernels, 'get_kernel'), kernels.__file__; print(kernels.__file__)"
    theirs = subprocess.run([sys.executable, "-c", check], cwd=tmp_path, env=outside_checkout_env(),
                            capture_output=True, text=True, timeout=120)
    assert theirs.returncode == 0, theirs.stderr
    assert not Path(theirs.stdout.strip()).is_relative_to(ROOT)  # theirs, not our kernels/ folder

    engine_run = shutil.which("engine-run", path=str(Path(sys.executable).parent)) or shutil.which("engine-run")
    assert engine_run, "engine-run is not installed: pip install -e ."
    env = {**outside_checkout_env(), "ENGINE_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([engine_run, film.path, "--out", str(tmp_path / "out"), "--no-progress"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    document = json.loads((tmp_path / "out" / "clip.json").read_text())
    assert [shot["start_frame"] for shot in document["shots"]] == [0, 30]
