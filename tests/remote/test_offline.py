"""``mode="offline"`` writes a spool file; ``runwatch sync`` sends it to a server (or, with
no server configured, into the local store), once, however often it is run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import runwatch
from tests.remote.conftest import Server, base_env, cli, files_under, run_child

STEPS = 1000

OFFLINE_LOGGER = """
import runwatch

run = runwatch.init(project="offline", config={"batch": 32})
for i in range(1000):
    run.log({"v": i * 0.25, "step_sq": i * i})
run.summary["best"] = 0.125
run.finish()
print("run", run.id, flush=True)
"""


def _log_offline(client_dir: Path, cwd: Path) -> tuple[str, Path]:
    """Runs the offline script; returns its run id and its spool file."""
    out, err = run_child(OFFLINE_LOGGER, base_env(client_dir, RUNWATCH_MODE="offline"), cwd=cwd)
    run_id = out.split()[-1]
    spools = files_under(client_dir / "offline", "*.spool")
    assert len(spools) == 1, (spools, err)
    assert run_id in spools[0].name
    # Nothing went anywhere else: no store was written.
    assert not (client_dir / "runwatch.db").exists()
    return run_id, spools[0]


def _check_on_server(server: Server, run_id: str) -> None:
    run = server.run("offline", run_id)
    assert run["state"] == "finished"
    assert run["config"] == {"batch": 32}
    assert run["summary"]["best"] == 0.125
    xs, vs = server.points("offline", run_id, "v")
    assert xs == list(range(STEPS))
    assert vs == [i * 0.25 for i in range(STEPS)]
    xs, sq = server.points("offline", run_id, "step_sq")
    assert xs == list(range(STEPS)) and sq == [i * i for i in range(STEPS)]


def test_offline_run_syncs_to_a_server_once(server: Server, store_dir: Path,
                                            tmp_path: Path) -> None:
    run_id, spool = _log_offline(store_dir, tmp_path)
    env = base_env(store_dir)  # no RUNWATCH_URL: the server comes from --url
    args = ("sync", "--url", server.url, "--api-key", server.key or "")
    done = cli(*args, env=env)
    assert "synced" in done.stdout and "1 runs" in done.stdout, done.stdout
    assert not spool.exists()
    synced = spool.with_name(spool.name + ".synced")
    assert synced.is_file(), "the sent spool is not kept as *.spool.synced"
    _check_on_server(server, run_id)
    seq = server.run("offline", run_id)["seq"]

    again = cli(*args, env=env)
    assert "nothing to sync" in again.stdout, again.stdout
    assert synced.is_file()
    _check_on_server(server, run_id)
    assert server.run("offline", run_id)["seq"] == seq


def test_offline_run_syncs_into_the_local_store_without_a_server(store_dir: Path,
                                                                  tmp_path: Path) -> None:
    run_id, spool = _log_offline(store_dir, tmp_path)
    env = base_env(store_dir)
    assert "RUNWATCH_URL" not in env
    done = cli("sync", env=env)
    assert "synced" in done.stdout and str(store_dir) in done.stdout, done.stdout
    assert spool.with_name(spool.name + ".synced").is_file()
    with runwatch.Api(dir=store_dir) as api:
        run = api.run(f"offline/{run_id}")
        assert run.state == "finished"
        assert run.config == {"batch": 32}
        assert run.summary["best"] == 0.125
        rows = list(run.scan_history(keys=["v"]))
    assert [r["_step"] for r in rows] == list(range(STEPS))
    assert [r["v"] for r in rows] == [i * 0.25 for i in range(STEPS)]
    assert "nothing to sync" in cli("sync", env=env).stdout


def test_runwatch_login_then_sync_uses_the_saved_server(server: Server, store_dir: Path,
                                                        tmp_path: Path) -> None:
    run_id, _spool = _log_offline(store_dir, tmp_path)
    env = base_env(store_dir)
    login = cli("login", server.url, "--key", server.key or "", env=env)
    assert "admin" in login.stdout, login.stdout
    saved = Path(env["XDG_CONFIG_HOME"]) / "runwatch" / "login.json"
    assert json.loads(saved.read_text()) == {"url": server.url, "api_key": server.key}
    assert saved.stat().st_mode & 0o077 == 0, "the saved key is readable by others"
    cli("sync", env=env)
    _check_on_server(server, run_id)


def test_login_with_a_wrong_key_is_refused(server: Server, store_dir: Path) -> None:
    env = base_env(store_dir)
    bad = cli("login", server.url, "--key", "rw_" + "x" * 40, env=env, check=False)
    assert bad.returncode != 0
    assert "refused" in bad.stderr or "key" in bad.stderr.lower(), bad.stderr
    assert not (Path(env["XDG_CONFIG_HOME"]) / "runwatch" / "login.json").exists()


def test_syncing_a_synced_spool_again_keeps_the_file(server: Server, store_dir: Path,
                                                     tmp_path: Path) -> None:
    run_id, spool = _log_offline(store_dir, tmp_path)
    cli("sync", env=base_env(store_dir))  # into the local store first
    synced = spool.with_name(spool.name + ".synced")
    backup = tmp_path / "backup.bin"
    shutil.copy(synced, backup)
    # Now to the team server too, naming the kept file.
    cli("sync", str(synced), "--url", server.url, "--api-key", server.key or "",
        env=base_env(store_dir))
    _check_on_server(server, run_id)
    assert synced.is_file(), "runwatch sync deleted the user's synced spool"
