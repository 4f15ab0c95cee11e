"""API keys on a real server: every API route refuses callers without an active key
(401, never 500), read-only keys cannot write (403), the browser's sign-in cookie works,
revoked keys stop working, and a training process with a wrong key loses nothing."""

from __future__ import annotations

import http.client
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from runwatch import records
from runwatch.server.auth import CACHE_SECONDS
from tests.remote.conftest import Server, cli, files_under, run_child

# Routes anyone may call: the schema, its docs page, and signing in or out.
PUBLIC = {"/api/v1/openapi.json", "/api/v1/docs", "/api/v1/session"}
PATH_VALUES = {"project": "p", "run_id": "r", "sha": "a" * 64, "name": "n", "version": "v0"}
# Authorization header values that carry no active key.
WRONG_AUTH: dict[str, str | bytes] = {
    "unknown key": "Bearer rw_" + "x" * 40,
    "not a key": "Bearer hunter2",
    "no token": "Bearer",
    "huge key": "Bearer rw_" + "y" * 5000,
    "non-ascii key": "Bearer rw_kéy".encode(),
    "latin-1 junk": b"Bearer rw_\xff\xfe" + b"z" * 38,
}


def _routes(server: Server) -> list[tuple[str, str]]:
    """(method, path with values) of every API operation, from the server's own schema."""
    doc = httpx.get(server.url + "/api/v1/openapi.json", timeout=30).json()
    out = []
    for template, item in doc["paths"].items():
        path = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], template)
        out.extend((method.upper(), path) for method in item if method != "parameters")
    assert len(out) > 20, out
    assert ("POST", "/api/v1/batches") in out and ("PUT", f"/api/v1/uploads/{'a' * 64}") in out
    return out


def _assert_unauthorized(resp: httpx.Response, what: str) -> None:
    assert resp.status_code == 401, f"{what}: {resp.status_code} {resp.text[:300]}"
    assert resp.json()["error"]["code"] == "unauthorized", what
    assert resp.headers["www-authenticate"].lower().startswith("bearer"), what


def _request(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    if method in ("POST", "PUT"):
        kwargs.setdefault("content", b"\x80")
    return client.request(method, path, **kwargs)


def test_every_api_route_answers_401_without_a_valid_key(shared_server: Server) -> None:
    routes = [(m, p) for m, p in _routes(shared_server) if p not in PUBLIC]
    with httpx.Client(base_url=shared_server.url, timeout=30) as client:
        for method, path in routes:
            _assert_unauthorized(_request(client, method, path), f"{method} {path} no key")
            for label, value in WRONG_AUTH.items():
                resp = _request(client, method, path, headers={"Authorization": value})
                _assert_unauthorized(resp, f"{method} {path} {label}")
            # Not a bearer token, and not the cookie's name.
            for headers in ({"Authorization": f"Basic {shared_server.key}"},
                            {"Authorization": shared_server.key or ""},
                            {"Cookie": f"other={shared_server.key}"},
                            {"Cookie": 'runwatch_key="unterminated'},
                            {"X-Api-Key": shared_server.key or ""}):
                _assert_unauthorized(_request(client, method, path, headers=headers),
                                     f"{method} {path} {headers}")


def test_a_key_in_the_query_string_is_not_a_key(shared_server: Server) -> None:
    resp = httpx.get(shared_server.url + "/api/v1/projects",
                     params={"api_key": shared_server.key, "key": shared_server.key})
    _assert_unauthorized(resp, "key in the query")


@pytest.mark.parametrize("raw_path", [
    "//api/v1/projects", "/api/v1//projects", "/api//v1/projects", "/API/v1/projects",
    "/static/../api/v1/projects", "/api/v1/docs/../projects", "/api/v1/openapi.json/../projects",
    "/api/v1/projects/", "/api/v1/%70rojects", "/%61pi/v1/projects", "/api/v1/session/../projects",
])
def test_odd_paths_never_reach_the_api_without_a_key(shared_server: Server,
                                                     raw_path: str) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", shared_server.port, timeout=30)
    try:
        conn.putrequest("GET", raw_path, skip_accept_encoding=True)
        conn.endheaders()
        resp = conn.getresponse()
        body = resp.read()
    finally:
        conn.close()
    assert resp.status < 500, (raw_path, resp.status, body[:300])
    assert b'"projects"' not in body, f"{raw_path} answered the project list without a key"
    if resp.status == 200:
        assert body.lstrip().lower().startswith(b"<!doctype html"), (raw_path, body[:200])


def test_the_page_and_static_files_load_without_a_key(shared_server: Server) -> None:
    with httpx.Client(base_url=shared_server.url, timeout=30) as client:
        page = client.get("/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        deep = client.get("/p/some-project/r/some-run")
        assert deep.status_code == 200 and deep.text == page.text
        scripts = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
        assert scripts, page.text[:500]
        for path in scripts:
            resp = client.get(path)
            assert resp.status_code == 200, (path, resp.status_code)
        for path in ("/api/v1/openapi.json", "/api/v1/docs"):
            assert client.get(path).status_code == 200, path
        server = client.get("/api/v1/server")
        _assert_unauthorized(server, "/api/v1/server")


def test_the_server_says_who_the_caller_is(shared_server: Server) -> None:
    info = shared_server.get_json("/api/v1/server")
    assert info["auth"] is True
    assert info["key"] == {"name": "admin", "read_only": False}


def _batch(project: str, run_id: str) -> bytes:
    return records.encode(records.Batch(
        project=project, run_id=run_id, seq=0, sent_at=time.time(),
        start=records.RunStart(name="n", created_at=time.time()),
        series=[records.Series("loss", [0, 1], [1.0, 2.0], [0.5, 0.25])]))


def test_a_read_only_key_reads_but_cannot_write(shared_server: Server) -> None:
    key = shared_server.create_key("reader", read_only=True)
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=shared_server.url, headers=headers, timeout=30) as client:
        assert client.get("/api/v1/projects").status_code == 200
        assert client.get("/api/v1/server").json()["key"] == {"name": "reader",
                                                              "read_only": True}
        assert client.head("/api/v1/projects").status_code in (200, 405)
        sha = "b" * 64
        assert client.get(f"/api/v1/uploads/{sha}").status_code == 200
        refused = [
            client.post("/api/v1/batches", content=_batch("ro", "r1"),
                        headers={"Content-Type": "application/vnd.msgpack"}),
            client.put(f"/api/v1/uploads/{sha}", params={"offset": 0, "size": 3},
                       content=b"abc"),
        ]
        for resp in refused:
            assert resp.status_code == 403, (resp.request.url, resp.status_code, resp.text)
            assert resp.json()["error"]["code"] == "read_only_key"
            assert "reader" in resp.json()["error"]["message"]
        # The cookie carries the same rights as the header.
    with httpx.Client(base_url=shared_server.url, timeout=30,
                      cookies={"runwatch_key": key}) as client:
        assert client.get("/api/v1/projects").status_code == 200
        assert client.post("/api/v1/batches", content=_batch("ro", "r2")).status_code == 403
    names = [p["name"] for p in shared_server.get_json("/api/v1/projects")["projects"]]
    assert "ro" not in names
    assert not (shared_server.dir / "uploads" / f"{sha}.part").exists()


def test_sign_in_sets_an_http_only_cookie_that_authorizes_reads(shared_server: Server) -> None:
    with httpx.Client(base_url=shared_server.url, timeout=30) as browser:
        _assert_unauthorized(browser.get("/api/v1/projects"), "before sign-in")
        bad = browser.post("/api/v1/session", json={"key": "rw_" + "z" * 40})
        assert bad.status_code == 401 and "set-cookie" not in bad.headers
        assert browser.post("/api/v1/session", json={"key": "nonsense"}).status_code == 401
        assert browser.post("/api/v1/session", json={}).status_code == 422
        assert browser.post("/api/v1/session", content=b"{").status_code in (400, 422)
        assert not browser.cookies

        good = browser.post("/api/v1/session", json={"key": shared_server.key})
        assert good.status_code == 200, good.text
        assert good.json() == {"name": "admin", "read_only": False, "auth": True}
        cookie = good.headers["set-cookie"]
        attrs = [a.strip().lower() for a in cookie.split(";")]
        assert attrs[0] == f"runwatch_key={shared_server.key}".lower()
        assert "httponly" in attrs
        assert "samesite=strict" in attrs
        assert browser.get("/api/v1/projects").status_code == 200
        assert browser.get("/api/v1/server").json()["key"]["name"] == "admin"

        out = browser.delete("/api/v1/session")
        assert out.status_code == 200
        assert "runwatch_key=" in out.headers["set-cookie"]
        assert not browser.cookies.get("runwatch_key")
        _assert_unauthorized(browser.get("/api/v1/projects"), "after sign-out")


def test_a_revoked_key_stops_working(shared_server: Server) -> None:
    used = shared_server.create_key("soon-revoked")
    unused = shared_server.create_key("never-used")
    with httpx.Client(base_url=shared_server.url, timeout=30) as client:
        def status(key: str) -> int:
            return client.get("/api/v1/projects",
                              headers={"Authorization": f"Bearer {key}"}).status_code

        assert status(used) == 200  # now in the server's cache as good
        shared_server.revoke_key("soon-revoked")
        shared_server.revoke_key("never-used")
        assert status(unused) == 401  # never cached: refused at once
        revoked_at = time.monotonic()
        while status(used) != 401:
            assert time.monotonic() - revoked_at < CACHE_SECONDS + 5, \
                "a revoked key still works past the cache time"
            time.sleep(0.25)
        for method, path in _routes(shared_server):
            if path not in PUBLIC:
                _assert_unauthorized(_request(client, method, path,
                                              headers={"Authorization": f"Bearer {used}"}),
                                     f"{method} {path} revoked key")
    listed = cli("keys", "list", "--json", "--dir", str(shared_server.dir)).stdout
    assert '"soon-revoked"' in listed and used not in listed
    # The revoked name cannot be revoked twice, nor reused.
    assert cli("keys", "revoke", "soon-revoked", "--dir", str(shared_server.dir),
               check=False).returncode != 0
    assert cli("keys", "create", "soon-revoked", "--dir", str(shared_server.dir),
               check=False).returncode != 0


WRONG_KEY_LOGGER = """
import runwatch

run = runwatch.init(project="wrongkey")
for i in range(300):
    run.log({"v": float(i)})
run.finish()
print("still fine", run.id, flush=True)
"""


def test_a_client_with_a_wrong_key_keeps_training_and_sync_delivers_later(
        shared_server: Server, store_dir: Path, tmp_path: Path) -> None:
    env = shared_server.client_env(store_dir, key="rw_" + "w" * 40,
                                   RUNWATCH_FINISH_TIMEOUT="3")
    out, err = run_child(WRONG_KEY_LOGGER, env, cwd=tmp_path, timeout=60)
    assert "still fine" in out
    run_id = out.split()[-1]
    assert "401" in err and "not valid" in err, err
    assert len(files_under(store_dir / "spool", "*.spill")) == 1, err
    names = [p["name"] for p in shared_server.get_json("/api/v1/projects")["projects"]]
    assert "wrongkey" not in names

    done = cli("sync", "--api-key", shared_server.key or "", env=env)
    assert "synced" in done.stdout, done.stdout
    assert files_under(store_dir / "spool", "*.spill") == []
    xs, ys = shared_server.points("wrongkey", run_id, "v")
    assert xs == list(range(300)) and ys == [float(i) for i in range(300)]
    assert shared_server.run("wrongkey", run_id)["state"] == "finished"


def test_no_auth_on_loopback_needs_no_key(server_factory: Any) -> None:
    server = server_factory("open", auth=False).start()
    info = httpx.get(server.url + "/api/v1/server", timeout=30).json()
    assert info == {**info, "auth": False, "key": None}
    assert httpx.get(server.url + "/api/v1/projects", timeout=30).status_code == 200
    assert "rw_" not in server.output(), "a server without --auth printed a key"
