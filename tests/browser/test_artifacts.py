"""The artifacts pages: artifacts by type, a version's files and tables, and lineage
followed by clicking from a model version back to the run that made it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser.conftest import IMG, Server, Site, expect, finish_child, spawn

_LOG = """
import os, runwatch
files = os.path.join(os.environ["RUNWATCH_DIR"], "..", "files")
os.makedirs(files, exist_ok=True)
os.chdir(files)  # use_model downloads into ./artifacts, as in wandb: keep it out of the repo
with open(os.path.join(files, "train.csv"), "w") as f:
    f.write("x,y\\n1,2\\n")
run = runwatch.init(project="art", id="prep", name="prepare-data", job_type="data")
art = runwatch.Artifact("mnist", type="dataset", description={img!r},
                        metadata={{"rows": 5000, "note": {img!r}}})
art.add_file(os.path.join(files, "train.csv"))
art.add(runwatch.Table(columns=["a", "b"], data=[[i, str(i)] for i in range(120)]), "sample")
run.log_artifact(art, aliases=["best"])
run.finish()
run = runwatch.init(project="art", id="train", name="train-cnn", job_type="train")
run.use_artifact("mnist:latest")
with open(os.path.join(files, "model.pt"), "wb") as f:
    f.write(os.urandom(4096))
run.log_model(os.path.join(files, "model.pt"), name="mnist-cnn", aliases=["best"])
run.finish()
run = runwatch.init(project="art", id="eval", name="evaluate", job_type="eval")
run.use_model("mnist-cnn:best")
run.finish()
"""


@pytest.fixture(scope="module")
def art_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    store = tmp_path_factory.mktemp("art") / "store"
    store.mkdir()
    proc = spawn(store, _LOG.format(img=IMG))
    out, err = finish_child(proc, timeout=120)
    assert proc.returncode == 0, f"logging failed:\n{out}\n{err}"
    server = Server(store)
    try:
        yield Site(store=store, url=server.url, held=[])
    finally:
        server.stop()


def test_artifacts_page_groups_by_type(art_site, page):
    art_site.open(page, "/p/art")
    page.locator("a.artifacts-link").click()
    expect(page.locator('section.artifact-type[data-type="dataset"] tr[data-artifact="mnist"]')).to_be_visible()
    model_row = page.locator('section.artifact-type[data-type="model"] tr[data-artifact="mnist-cnn"]')
    expect(model_row).to_contain_text("v0")
    expect(model_row).to_contain_text("best")


def test_version_page_files_table_and_safe_text(art_site, page):
    art_site.open(page, "/p/art/artifacts/mnist/latest")
    expect(page.locator(".version-detail h2").first).to_contain_text("mnist:v0")
    # Description and metadata with markup are text.
    expect(page.locator(".version-detail")).to_contain_text(IMG)
    assert page.locator('img[src="x"]').count() == 0
    row = page.locator('table.file-list tr[data-path="train.csv"]')
    href = row.locator("a[download]").get_attribute("href")
    assert href.startswith("/api/v1/blobs/") and "name=train.csv" in href
    body = page.request.get(art_site.url.rstrip("/") + href).body()
    assert body == b"x,y\n1,2\n"
    page.locator("button.open-table").click()
    expect(page.locator(".table-view .rows-shown")).to_have_text("1–50 of 120")


def test_lineage_from_a_model_to_its_run(art_site, page):
    art_site.open(page, "/p/art/artifacts/mnist-cnn/best")
    graph = page.locator(".lineage")
    expect(graph.locator('[data-node="artifact:mnist-cnn:v0"].focus')).to_be_visible()
    expect(graph.locator('[data-node="run:train"]')).to_be_visible()
    expect(graph.locator('[data-node="artifact:mnist:v0"]')).to_be_visible()
    expect(graph.locator('[data-node="run:eval"]')).to_be_visible()
    expect(graph.locator("line.edge")).not_to_have_count(0)
    graph.locator('[data-node="run:train"]').click()
    expect(page).to_have_url(art_site.url.rstrip("/") + "/p/art/r/train")
    arts = page.locator(".card.artifacts")
    expect(arts.locator("ul.logged")).to_contain_text("mnist-cnn:v0")
    expect(arts.locator("ul.used")).to_contain_text("mnist:v0")
    arts.locator("ul.used a").click()
    expect(page.locator(".version-detail h2").first).to_contain_text("mnist:v0")


def test_run_page_lists_its_files(art_site, page):
    art_site.open(page, "/p/art/r/train")
    files = page.locator("table.run-files")
    expect(files.locator('tr[data-path="config.json"]')).to_be_visible()
    href = files.locator('tr[data-path="metadata.json"] a[download]').get_attribute("href")
    got = page.request.get(art_site.url.rstrip("/") + href)
    assert got.ok and "python" in got.json()
