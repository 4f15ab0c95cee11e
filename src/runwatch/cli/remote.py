"""``runwatch server``, ``keys``, ``login`` and ``sync``: the team server and its clients."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import click

server_store_option = click.option(
    "--store", "store_url", envvar="RUNWATCH_STORE", default=None, metavar="URL",
    help="The store: sqlite:///path/runwatch.db or postgresql://user:pass@host/db "
         "(default: $RUNWATCH_STORE, else runwatch.db in --dir).")


def register(main: click.Group, store_option: Any, host_option: Any, port_option: Any,
             serve: Any) -> None:
    @main.command()
    @store_option
    @server_store_option
    @click.option("--blobs", default=None, metavar="FOLDER|s3://BUCKET/PREFIX",
                  envvar="RUNWATCH_BLOBS",
                  help="Where files go: a folder or S3-compatible storage (default: blobs/ "
                       "in --dir). For S3 set the AWS_* variables and, for MinIO and the "
                       "like, AWS_ENDPOINT_URL.")
    @host_option
    @port_option
    @click.option("--auth/--no-auth", default=None,
                  help="Require API keys (default: on unless --host is loopback).")
    @click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
                  help="Server processes sharing the port and the store.")
    def server(store_dir: str | None, store_url: str | None, blobs: str | None, host: str,
               port: int, auth: bool | None, workers: int) -> None:
        """Serve the dashboard, the JSON API and remote logging (/api/v1) for a store."""
        from runwatch.server.serve import is_loopback

        if auth is False and not is_loopback(host):
            click.echo(f"runwatch: WARNING: --no-auth on {host}: anyone who can reach this "
                       "address can read and write every run.", err=True)
        serve(store_dir, host, port, open_browser=False, store_url=store_url, blobs=blobs,
              require_keys=auth, workers=workers)

    @main.group()
    def keys() -> None:
        """API keys of a server's store: create, list, revoke."""

    def _store(store_dir: str | None, store_url: str | None) -> Any:
        from runwatch.settings import resolve
        from runwatch.store import open_store

        settings = resolve({"dir": store_dir} if store_dir else None)
        return open_store(store_url or settings.store_url,
                          str(Path(settings.dir) / "blobs"))

    @keys.command("create")
    @click.argument("name")
    @click.option("--read-only", is_flag=True, help="The key may read but not log.")
    @store_option
    @server_store_option
    def keys_create(name: str, read_only: bool, store_dir: str | None,
                    store_url: str | None) -> None:
        """Create the key NAME and print it (once: only its hash is kept)."""
        from runwatch.errors import RunwatchError
        from runwatch.store import keys as store_keys

        store = _store(store_dir, store_url)
        try:
            with store.engine.begin() as conn:
                key = store_keys.create(conn, name, read_only)
        except RunwatchError as exc:
            raise click.ClickException(str(exc)) from exc
        finally:
            store.close()
        kind = "read-only key" if read_only else "key"
        click.echo(f"runwatch: created the {kind} {name!r}. It is shown only now:\n\n    {key}"
                   "\n\nUse it with `runwatch login URL` or RUNWATCH_API_KEY.")

    @keys.command("list")
    @store_option
    @server_store_option
    @click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
    def keys_list(store_dir: str | None, store_url: str | None, as_json: bool) -> None:
        """List the keys (names and prefixes; the keys themselves are not kept)."""
        from runwatch.cli import _print
        from runwatch.store import keys as store_keys

        store = _store(store_dir, store_url)
        try:
            with store.read() as conn:
                found = store_keys.listing(conn)
        finally:
            store.close()
        rows = [{"name": k.name, "prefix": k.prefix + "...",
                 "access": "read-only" if k.read_only else "read-write",
                 "created": _when(k.created_at),
                 "revoked": _when(k.revoked_at) if k.revoked_at else ""} for k in found]
        _print(rows, as_json, ("name", "prefix", "access", "created", "revoked"))

    @keys.command("revoke")
    @click.argument("name")
    @store_option
    @server_store_option
    def keys_revoke(name: str, store_dir: str | None, store_url: str | None) -> None:
        """Revoke the key NAME (servers stop taking it within seconds)."""
        from runwatch.errors import RunwatchError
        from runwatch.store import keys as store_keys

        store = _store(store_dir, store_url)
        try:
            with store.engine.begin() as conn:
                store_keys.revoke(conn, name)
        except RunwatchError as exc:
            raise click.ClickException(str(exc)) from exc
        finally:
            store.close()
        click.echo(f"runwatch: revoked the key {name!r}.")

    @main.command()
    @click.argument("url")
    @click.option("--key", "api_key", default=None, envvar="RUNWATCH_API_KEY",
                  help="The API key (asked for when the server needs one and none is given).")
    def login(url: str, api_key: str | None) -> None:
        """Save a server URL (and key) so runs log there: like RUNWATCH_URL, remembered."""
        from runwatch.settings import login_file

        url = url.rstrip("/")
        if "://" not in url:
            url = "http://" + url
        info = _check_server(url, api_key)
        if info is None:
            api_key = click.prompt("API key", hide_input=True)
            info = _check_server(url, api_key)
            if info is None:
                raise click.ClickException(f"{url} refused that key.")
        path = login_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"url": url, "api_key": api_key}, fh)
        who = f" as key {info['key']['name']!r}" if info.get("key") else ""
        click.echo(f"runwatch: runs now log to {url}{who} (saved in {path}; "
                   "RUNWATCH_URL overrides it).")

    @main.command()
    @click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
    @store_option
    @click.option("--url", default=None, help="Server to send to (default: RUNWATCH_URL or "
                  "the saved login; without one, the local store in --dir).")
    @click.option("--api-key", default=None, help="API key for --url.")
    def sync(paths: tuple[Path, ...], store_dir: str | None, url: str | None,
             api_key: str | None) -> None:
        """Upload offline runs and unsent batches (PATHS: spool files or folders; default:
        the offline runs and what waits for this destination in the store folder). Safe to
        repeat: nothing is applied twice."""
        from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

        from runwatch.sdk import sync as sync_mod
        from runwatch.sdk.remote import HttpSink
        from runwatch.sdk.sinks import LocalSink
        from runwatch.settings import resolve

        overrides: dict[str, Any] = {"dir": store_dir, "url": url}
        if api_key:
            overrides["api_key"] = api_key
        settings = resolve(overrides)
        base = Path(settings.dir)
        files = sync_mod.find_files(list(paths) or sync_mod.default_paths(base, settings.url))
        if not files:
            click.echo("runwatch: nothing to sync.")
            return
        sink: Any = (HttpSink(settings.url, settings.api_key, base / "blobs") if settings.url
                     else LocalSink(settings.store_url))
        total = sum(f.stat().st_size for f in files)
        with Progress("[progress.description]{task.description}", BarColumn(),
                      DownloadColumn(), TimeRemainingColumn(), transient=True) as progress:
            task = progress.add_task(f"sync to {sink.description}", total=total)
            try:
                report = sync_mod.sync_files(files, _applier(sink),
                                             lambda n: progress.advance(task, n))
            finally:
                sink.close()
        for path in report.busy:
            click.echo(f"runwatch: skipped {path}: a live run still writes it.")
        for path, why in report.failed:
            click.echo(f"runwatch: could not sync {path}: {why}", err=True)
        click.echo(f"runwatch: synced {report.batches} batches of {len(report.runs)} runs "
                   f"from {report.files} files to {sink.description}.")
        if report.failed:
            raise SystemExit(1)


def _applier(sink: Any) -> Any:
    def apply(batch: Any) -> None:
        for problem in sink.apply(batch):
            click.echo(f"runwatch: {problem}", err=True)

    return apply


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else ""


def _check_server(url: str, api_key: str | None) -> dict[str, Any] | None:
    """The server's /server answer with this key; None when it wants a (different) key."""
    import httpx

    from runwatch.sdk.remote import ServerError, client, raise_for

    try:
        with client(url, api_key, timeout=10.0) as http:
            response = http.get("/server")
    except httpx.HTTPError as exc:
        raise click.ClickException(f"{url} does not answer ({exc}). Is `runwatch server` "
                                   "running there?") from None
    if response.status_code == 401:
        return None
    try:
        raise_for(response, url)
    except ServerError as exc:
        raise click.ClickException(f"{url}: {exc}") from None
    return response.json()
