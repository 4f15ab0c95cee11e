"""``init(id=...)`` while the server is away: a new run starts anyway (its batches wait
on disk); resuming, which needs the run's last step from the server, says why it cannot."""

from __future__ import annotations

from pathlib import Path

from tests.remote.conftest import base_env, files_under, free_port, spawn


def test_a_new_run_with_an_id_starts_while_the_server_is_away(store_dir: Path) -> None:
    env = base_env(store_dir, RUNWATCH_URL=f"http://127.0.0.1:{free_port()}",
                   RUNWATCH_API_KEY="rw_" + "k" * 40, RUNWATCH_FINISH_TIMEOUT="2")
    rc, out, err = spawn("""
        import runwatch as wandb
        run = wandb.init(project="away", id="chosen")
        for i in range(100):
            wandb.log({"x": i})
        wandb.finish()
        print("DONE", run.id)
    """, env).finish(60)
    assert rc == 0, err
    assert "DONE chosen" in out
    assert "Starting it as a new run" in err
    assert files_under(store_dir / "spool", "*.spill")


def test_resuming_while_the_server_is_away_says_why(store_dir: Path) -> None:
    env = base_env(store_dir, RUNWATCH_URL=f"http://127.0.0.1:{free_port()}")
    rc, _out, err = spawn("""
        import runwatch as wandb
        wandb.init(project="away", id="chosen", resume="must")
    """, env).finish(60)
    assert rc != 0
    assert "does not answer" in err and "Resume it when the server is back" in err
