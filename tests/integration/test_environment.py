"""The run's environment: git state and (on request) packages, recorded after init."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import runwatch

CHILD = ("import runwatch; run = runwatch.init(project='env'); run.log({'x': 1}); "
         "print(run.id); run.finish()")


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                          text=True).stdout.strip()


def _run_in(cwd: Path, store: Path, **env: str) -> dict:
    full = {**os.environ, "RUNWATCH_DIR": str(store), "RUNWATCH_SILENT": "1", **env}
    out = subprocess.run([sys.executable, "-c", CHILD], cwd=cwd, env=full, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    api = runwatch.Api(dir=store)
    try:
        return api.run(f"env/{out.stdout.strip()}").metadata
    finally:
        api.close()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "t@example.com")
    _git(repo, "config", "user.name", "t")
    (repo / "train.py").write_text("lr = 0.1\n")
    _git(repo, "add", "train.py")
    _git(repo, "commit", "-q", "-m", "first")
    _git(repo, "remote", "add", "origin", "https://example.com/team/model.git")
    (repo / "train.py").write_text("lr = 0.01  # <b>tuned</b>\n")
    return repo


def test_git_remote_commit_branch_and_diff(repo: Path, store_dir: Path) -> None:
    meta = _run_in(repo, store_dir)
    git = meta["git"]
    assert git["commit"] == _git(repo, "rev-parse", "HEAD")
    assert git["remote"] == "https://example.com/team/model.git"
    assert git["branch"] == "main" and git["dirty"] is True
    assert "-lr = 0.1" in git["diff"] and "+lr = 0.01  # <b>tuned</b>" in git["diff"]
    assert "packages" not in meta  # only on request
    assert meta["cwd"] == str(repo)


def test_a_clean_tree_has_no_diff(repo: Path, store_dir: Path) -> None:
    _git(repo, "commit", "-q", "-am", "tuned")
    git = _run_in(repo, store_dir)["git"]
    assert git["dirty"] is False and "diff" not in git


def test_packages_on_request(repo: Path, store_dir: Path) -> None:
    meta = _run_in(repo, store_dir, RUNWATCH_CAPTURE_PACKAGES="1")
    names = {p.split("==")[0].lower() for p in meta["packages"]}
    assert {"runwatch", "numpy", "msgspec"} <= names
    assert meta["packages"] == sorted(meta["packages"], key=lambda p: p.split("==")[0].lower())


def test_outside_a_repository_or_switched_off(tmp_path: Path, repo: Path, store_dir: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    assert "git" not in _run_in(plain, store_dir)
    assert "git" not in _run_in(repo, store_dir, RUNWATCH_CAPTURE_GIT="0")


def test_a_huge_diff_is_cut_with_a_marker(repo: Path, store_dir: Path) -> None:
    (repo / "train.py").write_text("x = 1\n" * 300_000)
    diff = _run_in(repo, store_dir)["git"]["diff"]
    assert len(diff) < 1_100_000 and "[runwatch: diff cut at 1,000,000 characters]" in diff
