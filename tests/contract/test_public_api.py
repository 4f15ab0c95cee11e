"""The public surface is pinned, and importing it stays cheap."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

import runwatch
from runwatch.cli import main

EXPECTED = {
    "Api", "Config", "ConfigError", "Run", "RunwatchError", "RunwatchWarning", "Settings",
    "UsageError", "__version__", "config", "define_metric", "finish", "init", "log", "login",
    "run", "summary", "use_artifact", "log_artifact", "log_model", "use_model", "link_model",
    "Artifact", "Table", "Image", "Histogram", "plot", "alert", "AlertLevel",
}


def test_exported_members():
    assert set(runwatch.__all__) == EXPECTED
    for name in runwatch.__all__:
        assert hasattr(runwatch, name), name


def test_import_loads_no_heavy_libraries():
    code = ("import sys, runwatch, json; print(json.dumps(sorted(m for m in "
            "('numpy','pandas','sqlalchemy','alembic','httpx','fastapi','rich','click') "
            "if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_cli_lists_projects_and_runs(store_dir):
    run = runwatch.init(project="cli-proj", name="<b>bold</b>")
    run.log({"a": 1})
    run.finish()
    runner = CliRunner()
    out = runner.invoke(main, ["projects", "--json", "--dir", str(store_dir)])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)[0]["name"] == "cli-proj"
    out = runner.invoke(main, ["runs", "cli-proj", "--json", "--dir", str(store_dir)])
    assert json.loads(out.output)[0]["name"] == "<b>bold</b>"
    out = runner.invoke(main, ["show", f"cli-proj/{run.id}", "--dir", str(store_dir)])
    assert json.loads(out.output)["summary"] == {"a": 1}
    out = runner.invoke(main, ["runs", "missing", "--dir", str(store_dir)])
    assert out.exit_code == 1 and "No project 'missing'" in out.output


def test_cli_help_and_version():
    runner = CliRunner()
    assert "projects" in runner.invoke(main, ["--help"]).output
    assert runwatch.__version__ in runner.invoke(main, ["--version"]).output
