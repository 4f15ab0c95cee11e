"""``runwatch server`` / ``runwatch ui`` on the command line, and the static web UI."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from runwatch.cli import main
from runwatch.server.app import WEB_DIR
from tests.server.conftest import ApiClient, World, child_env, runwatch_command

INDEX = WEB_DIR / "index.html"
needs_index = pytest.mark.skipif(
    not INDEX.exists(), reason="src/runwatch/web/index.html is not written yet (web UI in progress)")


def _start(args: list[str], store_dir: Path) -> tuple[subprocess.Popen, list[str]]:
    proc = subprocess.Popen([*runwatch_command(), *args, "--port", "0", "--dir", str(store_dir)],
                            env=child_env(store_dir), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if "serving" in line:
            break
    return proc, lines


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("args", [["server", "--host", "0.0.0.0"],
                                  ["ui", "--no-browser", "--host", "0.0.0.0"]])
def test_a_public_address_requires_keys_and_prints_the_first(store_dir: Path,
                                                             args: list[str]) -> None:
    proc, lines = _start(args, store_dir)
    try:
        text = "".join(lines)
        key = re.search(r"\brw_[A-Za-z0-9]{40}\b", text)
        port = re.search(r"serving .* at http://0\.0\.0\.0:(\d+)/", text)
        assert key and port, text
        url = f"http://127.0.0.1:{port.group(1)}/api/v1/projects"
        assert httpx.get(url).status_code == 401
        assert httpx.get(url, headers={"Authorization": "Bearer " + key.group(0)}
                         ).status_code == 200
    finally:
        _stop(proc)
    # A second start over the same store has a key already: none is printed again.
    proc, lines = _start(args, store_dir)
    _stop(proc)
    assert not re.search(r"\brw_[A-Za-z0-9]{40}\b", "".join(lines))


def test_no_auth_on_a_public_address_warns(store_dir: Path) -> None:
    proc, lines = _start(["server", "--host", "0.0.0.0", "--no-auth"], store_dir)
    try:
        text = "".join(lines)
        assert "WARNING: --no-auth on 0.0.0.0" in text and "rw_" not in text
        port = re.search(r"at http://0\.0\.0\.0:(\d+)/", text)
        assert port, text
        assert httpx.get(f"http://127.0.0.1:{port.group(1)}/api/v1/projects").status_code == 200
    finally:
        _stop(proc)


def test_a_taken_port_says_use_another(store_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, ["server", "--port", str(port),
                                           "--dir", str(store_dir)])
    assert result.exit_code != 0
    assert f"127.0.0.1:{port}" in result.output
    assert "--port" in result.output and "0 picks a free one" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command, options", [
    ("server", ["--dir", "--host", "--port"]),
    ("ui", ["--dir", "--host", "--port", "--no-browser"]),
])
def test_help(command: str, options: list[str]) -> None:
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0, result.output
    for option in options:
        assert option in result.output
    assert "dashboard" in result.output


# -- the static UI ---------------------------------------------------------------------

def test_vendored_files_are_served(world: World, world_api: ApiClient) -> None:
    resp = world_api.get("/static/vendor/manifest.json")
    assert resp.status_code == 200
    assert resp.content == (WEB_DIR / "vendor" / "manifest.json").read_bytes()
    manifest = json.loads(resp.content)
    assert {"preact", "htm"} <= set(manifest)
    for package in manifest.values():
        for name in package["files"]:
            assert world_api.get(f"/static/vendor/{name}").status_code == 200, name


@needs_index
def test_index_has_a_content_security_policy(world_api: ApiClient) -> None:
    resp = world_api.get("/")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    assert resp.content == INDEX.read_bytes()
    csp = resp.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "object-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert resp.headers["x-content-type-options"] == "nosniff"


@needs_index
@pytest.mark.parametrize("path", ["/p/anything", "/p/vision/runs/abc",
                                  "/p/%3Cscript%3Ealert(1)%3C%2Fscript%3E"])
def test_app_paths_serve_the_same_page(world_api: ApiClient, path: str) -> None:
    resp = world_api.get(path)
    assert resp.status_code == 200
    assert resp.content == INDEX.read_bytes()
    assert resp.headers["content-security-policy"] == world_api.get("/").headers[
        "content-security-policy"]


def test_ui_without_a_display_serves_and_says_it_opens_nothing(store_dir: Path) -> None:
    env = {k: v for k, v in child_env(store_dir).items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    proc = subprocess.Popen([*runwatch_command(), "ui", "--port", "0", "--dir", str(store_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        first = proc.stdout.readline()
        second = proc.stdout.readline()
        assert "serving" in first and "http://127.0.0.1:" in first
        assert "no browser to open here" in second
        assert proc.poll() is None  # still serving, not blocked in a terminal browser
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
