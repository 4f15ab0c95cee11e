"""Where runs go: RUNWATCH_URL and RUNWATCH_API_KEY, else what `runwatch login` saved;
a broken login file never stops a run (it logs locally and says why)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runwatch.errors import RunwatchWarning, UsageError
from runwatch.settings import login_file, resolve


def _save(env: dict[str, str], text: str) -> Path:
    path = login_file(env)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"XDG_CONFIG_HOME": str(tmp_path / "cfg"), "RUNWATCH_DIR": str(tmp_path / "d")}


def test_nothing_saved_means_local(env):
    s = resolve(environ=env)
    assert s.url is None and s.api_key is None


def test_the_saved_login_is_used_and_the_environment_wins(env):
    _save(env, json.dumps({"url": "http://box:8080/", "api_key": "rw_saved"}))
    s = resolve(environ=env)
    assert (s.url, s.api_key) == ("http://box:8080", "rw_saved")
    s = resolve(environ={**env, "RUNWATCH_URL": "https://other:1", "RUNWATCH_API_KEY": "k"})
    assert (s.url, s.api_key) == ("https://other:1", "k")
    # An explicit empty RUNWATCH_URL means "log locally", whatever was saved.
    assert resolve(environ={**env, "RUNWATCH_URL": ""}).url is None


@pytest.mark.parametrize("text", ["{not json", '["a"]', '{"url": "ftp://x"}', ""])
def test_a_broken_login_file_warns_and_runs_stay_local(env, text):
    _save(env, text)
    if text == '["a"]':
        assert resolve(environ=env).url is None  # not a dict: nothing saved
        return
    with pytest.warns(RunwatchWarning, match="ignoring the saved login"):
        s = resolve(environ=env)
    assert s.url is None


@pytest.mark.parametrize("bad", ["ftp://x", "box:8080", "http://", "http://a b"])
def test_a_bad_server_url_is_a_clear_error(env, bad):
    with pytest.raises(UsageError, match="RUNWATCH_URL"):
        resolve(environ={**env, "RUNWATCH_URL": bad})


def test_login_with_a_host_and_key_sends_later_runs_there(monkeypatch):
    import runwatch

    # Set first, so the test's end puts them back as they were.
    monkeypatch.setenv("RUNWATCH_URL", "")
    monkeypatch.setenv("RUNWATCH_API_KEY", "")
    assert runwatch.login(key="rw_abc", host="http://box:8080/") is True
    s = resolve()
    assert (s.url, s.api_key) == ("http://box:8080", "rw_abc")
    assert runwatch.login("allow") is True  # wandb's first argument is `anonymous`
    assert resolve().api_key == "rw_abc"
    with pytest.raises(UsageError, match="not an http"):
        runwatch.login(host="box:8080")
