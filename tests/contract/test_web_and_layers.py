"""The UI ships what it names, and the layers keep their direction."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "src" / "runwatch"
WEB = PKG / "web"


def test_vendor_files_match_their_manifest():
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "refresh_vendor.py"), "--check"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_every_vendored_package_has_its_licence():
    manifest = json.loads((WEB / "vendor" / "manifest.json").read_text())
    assert set(manifest) == {"preact", "htm", "uplot"}
    for name, entry in manifest.items():
        lic = WEB / "vendor" / "licenses" / f"{name}-{entry['version']}.LICENSE"
        assert lic.is_file() and lic.stat().st_size > 500, lic


def test_index_links_the_vendored_stylesheet():
    manifest = json.loads((WEB / "vendor" / "manifest.json").read_text())
    index = (WEB / "index.html").read_text()
    assert f'/static/vendor/{manifest["uplot"]["css"]}' in index


def test_every_relative_import_in_the_web_app_resolves():
    missing = []
    for js in WEB.rglob("*.js"):
        if "vendor" in js.parts and js.name not in {"preact.js", "hooks.js", "htm.js", "uplot.js"}:
            continue
        for spec in re.findall(r'from\s+"(\.{1,2}/[^"]+)"', js.read_text()):
            if not (js.parent / spec).resolve().is_file():
                missing.append(f"{js.relative_to(WEB)} imports {spec}")
    assert not missing, missing


def test_only_api_js_calls_fetch():
    callers = [js.relative_to(WEB) for js in WEB.rglob("*.js")
               if "vendor" not in js.parts and re.search(r"\bfetch\(|EventSource\(", js.read_text())]
    assert [str(c) for c in callers] == ["api.js"]


def test_no_markup_injection_points_in_the_ui():
    # Strings reach the DOM only as text: no innerHTML, no dangerouslySetInnerHTML.
    bad = [js.relative_to(WEB) for js in WEB.rglob("*.js") if "vendor" not in js.parts
           and re.search(r"innerHTML|dangerouslySetInnerHTML|insertAdjacentHTML|document\.write",
                         js.read_text())]
    assert not bad, bad


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_layers_keep_their_direction():
    rules = {"store": ("runwatch.sdk", "runwatch.server", "runwatch.api"),
             "server": ("runwatch.sdk",)}
    broken = []
    for folder, banned in rules.items():
        for py in (PKG / folder).rglob("*.py"):
            for mod in _imports(py):
                if mod.startswith(banned):
                    broken.append(f"{py.relative_to(PKG)} imports {mod}")
    assert not broken, broken


def test_index_preloads_every_module():
    index = (WEB / "index.html").read_text()
    preloaded = set(re.findall(r'<link rel="modulepreload" href="/static/([^"]+)">', index))
    modules = {str(p.relative_to(WEB)) for p in WEB.rglob("*.js")} | {
        str(p.relative_to(WEB)) for p in WEB.rglob("*.mjs")}
    modules.discard("app.js")
    assert preloaded == modules, (f"missing: {sorted(modules - preloaded)}, "
                                  f"stale: {sorted(preloaded - modules)}")
