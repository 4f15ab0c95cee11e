#!/usr/bin/env python3
"""Refresh the browser libraries vendored into src/runwatch/web/vendor/ from the npm registry.

The dashboard is a buildless single-page app (Preact + htm + uPlot) served under a strict CSP,
so the libraries are checked in as plain ES modules. This script needs only the Python standard
library, not Node:

    python scripts/refresh_vendor.py                      # latest stable version of each package
    python scripts/refresh_vendor.py --pin preact=10.26.4 # hold a package at a version
    python scripts/refresh_vendor.py --check              # verify files against manifest.json

For each package it reads the registry metadata, downloads the tarball, verifies it against the
registry's sha512 `dist.integrity`, and takes only the files named in PACKAGES below. Each file
is written with the version in its name; bare imports between the files are rewritten to
relative ones (so the page needs no import map); trailing sourceMappingURL comments are dropped
(the maps are not vendored). Stable shim modules (`preact.js`, `hooks.js`, `htm.js`,
`uplot.js`) re-export from the versioned files, so the app's imports do not change on a
refresh. `manifest.json` records version, tarball, integrity, licence and each file's sha256.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import re
import sys
import tarfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VENDOR_DIR = REPO_ROOT / "src" / "runwatch" / "web" / "vendor"
DEFAULT_REGISTRY = "https://registry.npmjs.org"
MANIFEST = "manifest.json"
README = "README.md"
LICENSE_DIR = "licenses"
USER_AGENT = "runwatch-refresh-vendor (python urllib)"
TIMEOUT_S = 60

# A version placeholder in output names and shim text.
V = "{v}"


@dataclass(frozen=True)
class Take:
    """One file taken from a package tarball.

    `sources` are candidate paths inside the tarball (without the leading `package/`), tried in
    order: the dist layout differs between major versions (preact 10 ships
    `dist/preact.module.js`, preact 11 `dist/preact.mjs`). `out` is the name written in the
    vendor dir. `rewrite` maps a bare import specifier to the out-name template of the file it
    must point at (in this package); at least one import of each must be found.
    """

    sources: tuple[str, ...]
    out: str
    rewrite: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Package:
    takes: tuple[Take, ...]
    # Shim file name -> the line it exports (after the generated header).
    shims: dict[str, str]
    # Out-name template of the stylesheet the page links to, recorded as manifest[name]["css"].
    css: str | None = None


PACKAGES: dict[str, Package] = {
    "preact": Package(
        takes=(
            Take(("dist/preact.module.js", "dist/preact.mjs"), f"preact-{V}.mjs"),
            Take(
                ("hooks/dist/hooks.module.js", "hooks/dist/hooks.mjs"),
                f"preact-hooks-{V}.mjs",
                rewrite={"preact": f"preact-{V}.mjs"},
            ),
            Take(("LICENSE",), f"{LICENSE_DIR}/preact-{V}.LICENSE"),
        ),
        shims={
            "preact.js": f'export * from "./preact-{V}.mjs";',
            "hooks.js": f'export * from "./preact-hooks-{V}.mjs";',
        },
    ),
    "htm": Package(
        takes=(
            Take(("dist/htm.module.js", "dist/htm.mjs"), f"htm-{V}.mjs"),
            Take(("LICENSE",), f"{LICENSE_DIR}/htm-{V}.LICENSE"),
        ),
        shims={"htm.js": f'export {{ default }} from "./htm-{V}.mjs";'},
    ),
    "uplot": Package(
        takes=(
            Take(("dist/uPlot.esm.js",), f"uplot-{V}.mjs"),
            Take(("dist/uPlot.min.css",), f"uplot-{V}.css"),
            Take(("LICENSE",), f"{LICENSE_DIR}/uplot-{V}.LICENSE"),
        ),
        shims={"uplot.js": f'export {{ default }} from "./uplot-{V}.mjs";'},
        css=f"uplot-{V}.css",
    ),
}

STABLE_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
# Static `import ... from "x"`, `export ... from "x"` and `import "x"`, minified or not. The
# specifier may not contain whitespace, which keeps prose like `the "from" edge` from matching.
IMPORT_SPEC = re.compile(r"""\b(?P<kw>from|import)(?P<sp>\s*)(?P<q>["'])(?P<spec>[^"'\s]+)(?P=q)""")
JS_SOURCEMAP = re.compile(r"\n?//[#@] sourceMappingURL=\S*\s*\Z")
CSS_SOURCEMAP = re.compile(r"\n?/\*[#@] sourceMappingURL=.*?\*/\s*\Z", re.DOTALL)


class VendorError(Exception):
    pass


@dataclass
class Fetched:
    name: str
    version: str
    tarball: str
    integrity: str
    license: str
    files: dict[str, bytes]  # out name (relative to the vendor dir) -> content
    sources: dict[str, str]  # out name -> path inside the tarball, or "generated"
    css: str | None


# --- registry -----------------------------------------------------------------------------------


def http_get(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
        data: bytes = response.read()
    return data


def pick_version(name: str, meta: dict, pinned: str | None) -> str:
    versions = meta.get("versions", {})
    if pinned is not None:
        if pinned not in versions:
            raise VendorError(f"{name}: pinned version {pinned} is not in the registry")
        return pinned
    latest = meta.get("dist-tags", {}).get("latest")
    if isinstance(latest, str) and STABLE_VERSION.match(latest):
        return latest
    # `latest` is normally stable; if it is a prerelease, take the highest plain x.y.z instead.
    stable = [v for v in versions if STABLE_VERSION.match(v)]
    if not stable:
        raise VendorError(f"{name}: no stable version in the registry; pass --pin")

    def key(v: str) -> tuple[int, ...]:
        return tuple(int(part) for part in v.split("."))

    best = max(stable, key=key)
    print(f"{name}: dist-tags.latest is {latest!r}, not stable; using {best}")
    return best


def verify_integrity(name: str, data: bytes, integrity: str) -> None:
    """Check `data` against an SRI string; every sha512 entry in it must match."""
    expected = [
        entry.split("-", 1)[1].split("?", 1)[0]
        for entry in integrity.split()
        if entry.startswith("sha512-")
    ]
    if not expected:
        raise VendorError(f"{name}: registry gives no sha512 integrity ({integrity!r})")
    actual = base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")
    if any(digest != actual for digest in expected):
        raise VendorError(f"{name}: tarball sha512 {actual} does not match {integrity}")


def read_tarball(name: str, data: bytes) -> dict[str, bytes]:
    """Regular files of an npm tarball, keyed by path without the top folder (`package/`)."""
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar.getmembers():
            if not member.isfile():
                continue
            parts = member.name.split("/", 1)
            if len(parts) != 2:
                continue
            handle = tar.extractfile(member)
            if handle is None:
                raise VendorError(f"{name}: cannot read {member.name} from the tarball")
            files[parts[1]] = handle.read()
    return files


# --- transforms ---------------------------------------------------------------------------------


def strip_sourcemap(out: str, text: str) -> str:
    if out.endswith(".mjs"):
        return JS_SOURCEMAP.sub("\n", text)
    if out.endswith(".css"):
        return CSS_SOURCEMAP.sub("\n", text)
    return text


def rewrite_imports(name: str, out: str, text: str, rewrite: dict[str, str]) -> str:
    """Point bare imports at sibling files; the result must import nothing bare."""
    counts = dict.fromkeys(rewrite, 0)

    def replace(match: re.Match[str]) -> str:
        spec = match["spec"]
        if spec not in rewrite:
            return match[0]
        counts[spec] += 1
        return f'{match["kw"]}{match["sp"]}"./{rewrite[spec]}"'

    text = IMPORT_SPEC.sub(replace, text)
    missing = [spec for spec, n in counts.items() if n == 0]
    if missing:
        raise VendorError(f"{name}: {out} has no import of {missing}; check the dist text")
    bare = sorted(
        {m["spec"] for m in IMPORT_SPEC.finditer(text) if not m["spec"].startswith((".", "/"))}
    )
    if bare:
        raise VendorError(f"{name}: {out} still imports bare specifiers {bare}")
    return text


def detect_license(text: str) -> str | None:
    if "Permission is hereby granted, free of charge" in text:
        return "MIT"
    if "Apache License" in text and "Version 2.0" in text:
        return "Apache-2.0"
    return None


def shim_text(name: str, version: str, license_id: str, export_line: str) -> str:
    return (
        f"// Generated by scripts/refresh_vendor.py from {name} {version} ({license_id}); "
        "do not edit.\n"
        f"{export_line.replace(V, version)}\n"
    )


# --- fetch one package --------------------------------------------------------------------------


def fetch(name: str, spec: Package, registry: str, pinned: str | None) -> Fetched:
    meta = json.loads(http_get(f"{registry}/{name}"))
    version = pick_version(name, meta, pinned)
    info = meta["versions"][version]
    dist = info.get("dist", {})
    tarball_url = dist.get("tarball")
    integrity = dist.get("integrity")
    if not tarball_url or not integrity:
        raise VendorError(f"{name} {version}: registry metadata lacks dist.tarball/integrity")
    license_id = info.get("license")
    if isinstance(license_id, dict):  # old-style {"type": "MIT", "url": ...}
        license_id = license_id.get("type")
    if not isinstance(license_id, str) or not license_id:
        raise VendorError(f"{name} {version}: registry metadata gives no licence")

    data = http_get(tarball_url)
    verify_integrity(name, data, integrity)
    contents = read_tarball(name, data)

    files: dict[str, bytes] = {}
    sources: dict[str, str] = {}
    for take in spec.takes:
        out = take.out.replace(V, version)
        source = next((path for path in take.sources if path in contents), None)
        if source is None:
            raise VendorError(f"{name} {version}: none of {list(take.sources)} in the tarball")
        raw = contents[source]
        if out.endswith((".mjs", ".css")):
            text = strip_sourcemap(out, raw.decode("utf-8"))
            rewrite = {bare: target.replace(V, version) for bare, target in take.rewrite.items()}
            if out.endswith(".mjs"):
                text = rewrite_imports(name, out, text, rewrite)
            raw = text.encode("utf-8")
        elif out.endswith(".LICENSE"):
            found = detect_license(raw.decode("utf-8", errors="replace"))
            if found != license_id:
                raise VendorError(
                    f"{name} {version}: package.json says {license_id!r} but {source} reads "
                    f"as {found!r}; review the licence by hand"
                )
        files[out] = raw
        sources[out] = source
    for shim, export_line in spec.shims.items():
        files[shim] = shim_text(name, version, license_id, export_line).encode("utf-8")
        sources[shim] = "generated"
    css = spec.css.replace(V, version) if spec.css else None
    return Fetched(name, version, tarball_url, integrity, license_id, files, sources, css)


# --- write --------------------------------------------------------------------------------------


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stale_pattern(template: str) -> re.Pattern[str]:
    """Match any version of an out-name template; a version starts with a digit, so the
    pattern for `preact-{v}.mjs` does not match `preact-hooks-1.0.0.mjs`."""
    before, after = template.split(V)
    return re.compile(rf"^{re.escape(before)}(\d[\w.+-]*){re.escape(after)}$")


def build_manifest(fetched: list[Fetched]) -> dict:
    manifest: dict = {}
    for f in fetched:
        entry: dict = {
            "version": f.version,
            "files": {out: sha256(data) for out, data in sorted(f.files.items())},
            "sources": dict(sorted(f.sources.items())),
            "tarball": f.tarball,
            "integrity": f.integrity,
            "license": f.license,
        }
        if f.css:
            entry["css"] = f.css
        manifest[f.name] = entry
    return manifest


def readme_text(fetched: list[Fetched]) -> str:
    rows = "\n".join(
        f"| {f.name} | {f.version} | {f.license} | `{LICENSE_DIR}/{f.name}-{f.version}.LICENSE` |"
        for f in fetched
    )
    shims = "\n".join(
        f"- `{shim}`: `{line.replace(V, f.version)}`"
        for f in fetched
        for shim, line in PACKAGES[f.name].shims.items()
    )
    css = "\n".join(f"- `{f.css}` (manifest key `{f.name}.css`)" for f in fetched if f.css)
    return f"""# Vendored browser libraries

Generated by `scripts/refresh_vendor.py`; do not edit by hand.

| package | version | licence | licence text |
|---|---|---|---|
{rows}

The dashboard imports these stable shims, which re-export from the versioned files:

{shims}

Stylesheet to link:

{css}

The versioned files are the packages' dist files with two changes: bare imports between them
are rewritten to relative ones (so the page needs no import map, which would be an inline
script under the CSP), and trailing `sourceMappingURL` comments are dropped (the maps are not
vendored). `manifest.json` records each package's tarball, its sha512 integrity, the path each
file came from and the sha256 of every file written here.

Refresh to the latest stable versions (network access to the npm registry; no Node needed):

    python scripts/refresh_vendor.py
    python scripts/refresh_vendor.py --pin preact=<version>   # hold a package (repeatable)

Verify the files against the manifest (offline; exits non-zero on a mismatch):

    python scripts/refresh_vendor.py --check
"""


def write_all(vendor: Path, fetched: list[Fetched], dry_run: bool) -> list[str]:
    changes: list[str] = []
    manifest_path = vendor / MANIFEST
    old_manifest: dict = {}
    if manifest_path.exists():
        old_manifest = json.loads(manifest_path.read_text(encoding="utf-8"))

    wanted: dict[str, bytes] = {}
    for f in fetched:
        wanted.update(f.files)
    manifest = build_manifest(fetched)
    wanted[MANIFEST] = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8")
    wanted[README] = readme_text(fetched).encode("utf-8")

    # Remove older versions: anything an earlier manifest listed for a refreshed package, and
    # anything matching a versioned name template of it (covers files from before a manifest).
    stale: set[str] = set()
    for f in fetched:
        stale.update(old_manifest.get(f.name, {}).get("files", {}))
        patterns = [stale_pattern(t.out) for t in PACKAGES[f.name].takes]
        for path in vendor.rglob("*") if vendor.exists() else ():
            rel = path.relative_to(vendor).as_posix()
            if path.is_file() and any(p.match(rel) for p in patterns):
                stale.add(rel)
    for rel in sorted(stale - wanted.keys()):
        path = vendor / rel
        if path.is_file():
            changes.append(f"removed   {rel}")
            if not dry_run:
                path.unlink()

    for rel, data in sorted(wanted.items()):
        path = vendor / rel
        if path.is_file() and path.read_bytes() == data:
            continue
        changes.append(f"{'updated' if path.exists() else 'added':9} {rel} ({len(data)} bytes)")
        if not dry_run:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    return changes


# --- check --------------------------------------------------------------------------------------


def check(vendor: Path) -> list[str]:
    manifest_path = vendor / MANIFEST
    if not manifest_path.is_file():
        return [f"{manifest_path} is missing"]
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    problems: list[str] = []
    for name in PACKAGES:
        if name not in manifest:
            problems.append(f"{name}: not in the manifest")
    for name, entry in sorted(manifest.items()):
        files = entry.get("files", {})
        for rel, digest in sorted(files.items()):
            path = vendor / rel
            if not path.is_file():
                problems.append(f"{name}: {rel} is missing")
            elif sha256(path.read_bytes()) != digest:
                problems.append(f"{name}: {rel} does not match its sha256 in the manifest")
        css = entry.get("css")
        if css is not None and css not in files:
            problems.append(f"{name}: css {css} is not among the manifest's files")
    return problems


# --- main ---------------------------------------------------------------------------------------


def parse_pins(pins: list[str]) -> dict[str, str]:
    result: dict[str, str] = {}
    for pin in pins:
        name, sep, version = pin.partition("=")
        if not sep or not version:
            raise VendorError(f"--pin {pin!r}: expected name=version")
        if name not in PACKAGES:
            raise VendorError(f"--pin {pin!r}: unknown package; known: {', '.join(PACKAGES)}")
        result[name] = version
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--pin",
        action="append",
        default=[],
        metavar="NAME=VERSION",
        help="use this version instead of the latest (repeatable)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="only verify the vendored files against manifest.json (no network)",
    )
    parser.add_argument("--dry-run", action="store_true", help="fetch and report, write nothing")
    parser.add_argument("--registry", default=DEFAULT_REGISTRY, help="npm registry base URL")
    parser.add_argument("--vendor-dir", type=Path, default=DEFAULT_VENDOR_DIR)
    args = parser.parse_args(argv)
    vendor: Path = args.vendor_dir

    if args.check:
        problems = check(vendor)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            return 1
        print(f"{vendor}: all files match {MANIFEST}")
        return 0

    try:
        pins = parse_pins(args.pin)
        registry = args.registry.rstrip("/")
        fetched = [fetch(name, spec, registry, pins.get(name)) for name, spec in PACKAGES.items()]
    except (VendorError, OSError, ValueError, KeyError, tarfile.TarError) as exc:
        print(f"refresh_vendor: {exc}", file=sys.stderr)
        return 1

    for f in fetched:
        print(f"{f.name} {f.version} ({f.license}) from {f.tarball}")
    changes = write_all(vendor, fetched, args.dry_run)
    prefix = "would have: " if args.dry_run else ""
    for change in changes:
        print(f"{prefix}{change}")
    if not changes:
        print(f"{vendor}: up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
