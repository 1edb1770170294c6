"""The README is the front door: two commands, the second one CI's, current results, no internal
words in what users read."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from filmline.benchmarks import readme_results

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
USER_DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]
# Words that only mean something inside the team: project numbers, tickets, this workplace's paths.
INTERNAL = re.compile(r"seed[ -]?0\d\d|issue \d+|\.\./shared|our machines|this project's machines", re.IGNORECASE)


def bash_blocks(text: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", text, re.DOTALL)


def test_two_commands_the_second_is_what_ci_runs() -> None:
    blocks = bash_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) == 2
    setup_and_run, tests = blocks
    assert "--index-url https://download.pytorch.org/whl/cpu" in setup_and_run
    assert "engine-run" in setup_and_run
    command = tests.strip()
    assert "\n" not in command and "pytest" in command
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert command in ci  # a line of its own, verbatim


@pytest.mark.parametrize("page", USER_DOCS, ids=lambda p: p.name)
def test_no_internal_words(page: Path) -> None:
    found = [m.group(0) for m in INTERNAL.finditer(page.read_text(encoding="utf-8"))]
    assert not found


def test_links_between_pages_resolve() -> None:
    missing = []
    for page in USER_DOCS:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if not target.startswith(("http://", "https://")) and not (page.parent / target).exists():
                missing.append(f"{page.name}: {target}")
    assert not missing


def test_results_section_is_current(capsys) -> None:
    assert readme_results.main(["--check"]) == 0, capsys.readouterr().err
