"""The tree stays ruff clean (the rules are in pyproject.toml)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_ruff_clean():
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.fail("ruff is not installed; it comes with the test extra: pip install -e '.[test]'")
    out = subprocess.run([ruff, "check", "src", "tests", "benchmarks", "examples", "scripts"], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0, f"ruff found problems:\n{out.stdout}{out.stderr}"


def test_modules_stay_small():
    big = [(p.relative_to(ROOT), n) for p in (ROOT / "src").rglob("*.py")
           if (n := len(p.read_text().splitlines())) > 600]
    assert not big, f"modules past 600 lines, each asking to be split: {big}"
