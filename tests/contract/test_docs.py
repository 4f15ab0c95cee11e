"""Docs keep their promises: every setting documented, README commands real."""

from __future__ import annotations

import re
from pathlib import Path

from runwatch.settings import SETTINGS

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_documented():
    text = (ROOT / "docs" / "settings.md").read_text()
    for s in SETTINGS:
        row = re.search(rf"^\| `{s.name}` \| `{s.env}` \| (.+?) \| (.+?) \|$", text, re.M)
        assert row, f"docs/settings.md lacks a row for {s.name} ({s.env})"
        if s.name != "dir":
            assert f"`{s.default}`" == row.group(1), f"default of {s.name} differs in the docs"
        assert row.group(2) == s.help, f"help of {s.name} differs in the docs"


def test_readme_test_command_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    block = re.search(r"<!-- test-command -->\s*```(?:bash|sh)?\n(.+?)\n```", readme, re.S)
    assert block, "README must show the test command after <!-- test-command -->"
    command = block.group(1).strip()
    assert command in ci, f".ci/run must run the README's test command: {command!r}"


def test_readme_mentions_the_store_default():
    readme = (ROOT / "README.md").read_text()
    assert "RUNWATCH_DIR" in readme and "~/.runwatch" in readme


def test_readme_demo_command_and_options_are_real():
    from click.testing import CliRunner

    from runwatch.cli import main

    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- demo-command -->\s*```(?:bash|sh)?\n(.+?)\n```", readme, re.S)
    assert block, "README must show the demo command after <!-- demo-command -->"
    command = block.group(1).strip()
    assert "pip install -e '.[demo]'" in command and command.endswith("runwatch demo")
    # The CPU torch goes in first, so the demo extra keeps it.
    assert command.index("torch==") < command.index(".[demo]")
    pyproject = (ROOT / "pyproject.toml").read_text()
    extra = re.search(r"^demo = \[(.+?)\]", pyproject, re.S | re.M)
    assert extra and '"torch>=' in extra.group(1) and '"mlxtend' in extra.group(1)
    help_text = CliRunner().invoke(main, ["demo", "--help"]).output
    for option in ("--epochs", "--limit", "--device", "--data-dir", "--no-serve",
                   "--no-browser", "--port", "--dir"):
        assert option in help_text, option
        assert option in readme, option
