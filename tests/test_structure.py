"""The layering the design promises: top-level packages import one way, and `--help` stays light."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

TOP_LEVEL = ("engine", "export", "kernels", "benchmarks")


def _package_imports() -> dict[tuple[str, str], set[str]]:
    """(importing package, imported package) → the installed files that make that edge, from every
    `import filmline.X...` / `from filmline.X... import` in the source (function-level ones too)."""
    edges: dict[tuple[str, str], set[str]] = defaultdict(set)
    for top in TOP_LEVEL:
        for folder in importlib.util.find_spec(f"filmline.{top}").submodule_search_locations:
            for path in sorted(Path(folder).rglob("*.py")):
                tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
                for node in ast.walk(tree):
                    if isinstance(node, ast.Import):
                        modules = [alias.name for alias in node.names]
                    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                        modules = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
                    else:
                        continue
                    for module in modules:
                        parts = module.split(".")
                        if len(parts) > 1 and parts[0] == "filmline" and parts[1] in TOP_LEVEL and parts[1] != top:
                            edges[(top, parts[1])].add(f"{path}:{node.lineno}")
    return edges


def _cycle(edges: dict[tuple[str, str], set[str]]) -> list[str] | None:
    """One cycle of packages (first == last), or None."""
    successors = defaultdict(set)
    for source, target in edges:
        successors[source].add(target)

    def walk(node: str, path: list[str]) -> list[str] | None:
        for target in sorted(successors[node]):
            if target in path:
                return path[path.index(target):] + [target]
            found = walk(target, path + [target])
            if found:
                return found
        return None

    for start in TOP_LEVEL:
        found = walk(start, [start])
        if found:
            return found
    return None


def test_top_level_packages_import_one_way():
    edges = _package_imports()
    assert ("export", "engine") in edges  # the walk sees real imports (export builds through the engine)
    cycle = _cycle(edges)
    if cycle is not None:
        where = [f"{a} -> {b}: {', '.join(sorted(edges[(a, b)])[:3])}" for a, b in zip(cycle, cycle[1:])]
        raise AssertionError("import cycle between top-level packages:\n" + "\n".join(where))


def test_cycle_finder_reports_a_cycle():
    edges = {("engine", "export"): {"a.py:1"}, ("export", "kernels"): {"b.py:2"}, ("kernels", "engine"): {"c.py:3"}}
    assert _cycle(edges) == ["engine", "export", "kernels", "engine"]
    assert _cycle({("export", "engine"): {"a.py:1"}}) is None


def test_engine_run_help_imports_no_torch():
    code = (
        "import sys; from filmline.engine.cli import main\n"
        "try: main(['--help'])\nexcept SystemExit: pass\n"
        "print(sorted(m for m in ('torch', 'onnxruntime', 'transformers', 'av') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert "--detector" in result.stdout
    assert result.stdout.strip().endswith("[]")


def test_only_the_model_layer_loads_models():
    """Opening a model or a runtime session happens in `engine/backends` (and the checkpoint
    readers of `engine/models`); stages, the pipeline and the run get runners."""
    loaders = ("InferenceSession(", "torch.load(", "load_state_dict(", "deserialize_cuda_engine(")
    allowed = ("backends", "models", "training")  # training restores its own best epoch
    engine = Path(importlib.util.find_spec("filmline.engine").submodule_search_locations[0])
    found = [
        f"{path.relative_to(engine)}: {loader}"
        for path in sorted(engine.rglob("*.py"))
        if path.relative_to(engine).parts[0] not in allowed
        for loader in loaders
        if loader in path.read_text(encoding="utf-8")
    ]
    assert found == []
