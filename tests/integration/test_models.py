"""Models as artifacts: log_model, use_model, link_model, and the tutorial's snippets
verbatim with a real (tiny) torch model, through the real store."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import runwatch
import runwatch as wandb
from runwatch.errors import RunwatchError, UsageError
from tests.conftest import run_python
from tests.integration._helpers import blob_files, tree, work_in_tmp, write  # noqa: F401

# Every test here works in its own folder (downloads default to ./artifacts).
pytestmark = pytest.mark.usefixtures("work_in_tmp")








def test_tutorial_model_snippets_verbatim(api, store_dir, tmp_path, monkeypatch):
    import torch
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    saved = {}
    first = wandb.init(project="project_name")
    for ep in range(2):
        loss = model(torch.randn(8, 4)).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        wandb.log({"loss": loss.item()})
        # --- the tutorial, verbatim ---
        torch.save(model.state_dict(), f"model_{ep}.pth")
        wandb.log_model(path=f"model_{ep}.pth", name=f"model_{ep}")
        # --- end ---
        saved[ep] = {k: v.detach().clone() for k, v in model.state_dict().items()}
    # The second snippet asks for "model_name": register the last checkpoint under it.
    wandb.log_model(path="model_1.pth", name="model_name")
    wandb.finish()

    # --- the tutorial, verbatim ---
    run = wandb.init(project="project_name")
    downloaded_model_path = run.use_model(name="model_name")
    # --- end ---
    path = Path(downloaded_model_path)
    assert path.is_file() and path.name == "model_1.pth"
    assert path.resolve().is_relative_to(tmp_path.resolve())
    assert path.read_bytes() == Path("model_1.pth").read_bytes()
    restored = torch.nn.Linear(4, 2)
    restored.load_state_dict(torch.load(downloaded_model_path))
    for key, value in restored.state_dict().items():
        assert torch.equal(value, saved[1][key]), key
    state0 = torch.load(run.use_model(name="model_0"))
    assert all(torch.equal(state0[k], saved[0][k]) for k in saved[0])
    assert not all(torch.equal(saved[0][k], saved[1][k]) for k in saved[0])
    run.finish()

    arts = {a.source_name: a for a in api.artifacts("project_name")}
    assert sorted(arts) == ["model_0", "model_1", "model_name"]
    assert {a.type for a in arts.values()} == {"model"}
    assert arts["model_name"].files()[0].sha256 == arts["model_1"].files()[0].sha256
    assert len(blob_files(store_dir)) == 2  # two checkpoints, each stored once
    assert arts["model_name"].logged_by().id == first.id
    assert sorted(r.id for r in arts["model_0"].used_by()) == [run.id]
    assert sorted(a.source_name for a in api.run(f"project_name/{run.id}").used_artifacts()) \
        == ["model_0", "model_name"]


def test_tutorial_use_model_later_in_a_fresh_process(tmp_path, monkeypatch):
    import torch
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(1)
    model = torch.nn.Linear(3, 1)
    wandb.init(project="project_name")
    torch.save(model.state_dict(), "model_0.pth")
    wandb.log_model(path="model_0.pth", name="model_name")
    wandb.finish()
    proc = run_python("""
        import runwatch as wandb
        run = wandb.init(project="project_name")
        downloaded_model_path = run.use_model(name="model_name")
        print(downloaded_model_path)
        wandb.finish()
    """)
    downloaded = Path(proc.stdout.strip().splitlines()[-1])
    if not downloaded.is_absolute():
        downloaded = tmp_path / downloaded
    state = torch.load(downloaded)
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())


def test_log_model_default_name_type_and_aliases(api, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # use_model downloads under ./artifacts
    write(tmp_path / "clf.pt", b"weights-1")
    run = wandb.init(project="p")
    logged = run.log_model(tmp_path / "clf.pt")
    assert logged.source_name == f"run-{run.id}-clf.pt"
    assert (logged.type, logged.version, logged.aliases) == ("model", "v0", ["latest"])
    again = run.log_model(str(tmp_path / "clf.pt"), aliases=["best"])  # same bytes: same version
    assert again.version == "v0" and sorted(again.aliases) == ["best", "latest"]
    write(tmp_path / "clf.pt", b"weights-2")
    newer = run.log_model(tmp_path / "clf.pt", aliases="candidate")
    assert newer.version == "v1" and sorted(newer.aliases) == ["candidate", "latest"]
    assert Path(run.use_model(f"run-{run.id}-clf.pt:best")).read_bytes() == b"weights-1"
    assert Path(run.use_model(f"run-{run.id}-clf.pt:candidate")).read_bytes() == b"weights-2"
    run.finish()
    assert [a.name for a in api.run(f"p/{run.id}").logged_artifacts()] == [
        f"run-{run.id}-clf.pt:v0", f"run-{run.id}-clf.pt:v1"]


def test_use_model_on_a_folder_model_returns_the_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    src = tmp_path / "hf_model"
    write(src / "config.json", '{"hidden": 8}')
    write(src / "weights" / "part-0.bin", bytes(range(200)))
    write(src / "weights" / "part-1.bin", bytes(range(100)))
    run = wandb.init(project="p")
    logged = wandb.log_model(path=src, name="folder_model")
    assert sorted(f.path for f in logged.files()) == [
        "config.json", "weights/part-0.bin", "weights/part-1.bin"]
    got = Path(run.use_model("folder_model:latest"))
    assert got.is_dir()
    assert tree(got) == tree(src)
    run.finish()


def test_use_model_refuses_what_is_not_a_model(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "d.csv", "a,b\n")
    run = wandb.init(project="p")
    ds = wandb.Artifact("table_data", type="dataset")
    ds.add_file(tmp_path / "d.csv")
    run.log_artifact(ds)
    with pytest.raises(UsageError) as err:
        run.use_model("table_data:latest")
    assert "dataset" in str(err.value) and "table_data" in str(err.value)
    with pytest.raises(RunwatchError, match="no_such_model"):
        run.use_model("no_such_model")
    run.finish()


def test_log_model_bad_input_is_refused_naming_the_value(store_dir, tmp_path):
    run = wandb.init(project="p")
    missing = tmp_path / "missing_model.pth"
    with pytest.raises(UsageError, match="missing_model.pth"):
        run.log_model(missing)
    write(tmp_path / "m.pth", b"m")
    with pytest.raises(UsageError, match="my model!"):
        run.log_model(tmp_path / "m.pth", name="my model!")
    with pytest.raises(UsageError, match="bad/registry"):
        run.link_model(tmp_path / "m.pth", registered_model_name="bad/registry")
    run.finish()
    with runwatch.Api() as api:
        assert not [a for a in api.artifacts("p") if a.source_name.startswith("my")]
        with pytest.raises(RunwatchError):
            api.artifact("model-registry/bad:latest")


def test_link_model_registers_versions_with_the_same_files(api, store_dir, tmp_path,
                                                          monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "model.pth", b"first weights" * 1000)
    run = wandb.init(project="p")
    logged = run.log_model(tmp_path / "model.pth", name="clf")
    blobs = blob_files(store_dir)

    linked = run.link_model(tmp_path / "model.pth", registered_model_name="iris-classifier",
                            name="clf")
    assert blob_files(store_dir) == blobs  # registering stores nothing new
    assert linked.qualified_name == "model-registry/iris-classifier:v0"
    assert api.artifact("p/clf:latest").version == "v0"  # the logged model did not move

    reg = api.artifact("model-registry/iris-classifier:v0", type="model")
    assert reg.type == "model"
    assert [(f.path, f.sha256, f.size) for f in reg.files()] == [
        (f.path, f.sha256, f.size) for f in logged.files()]
    out = Path(reg.download(tmp_path / "reg"))
    assert (out / "model.pth").read_bytes() == (tmp_path / "model.pth").read_bytes()
    assert reg.logged_by().id == run.id

    write(tmp_path / "model.pth", b"second weights" * 1000)
    second = run.link_model(tmp_path / "model.pth", "iris-classifier", name="clf",
                            aliases=["production"])
    assert second.version == "v1" and "production" in second.aliases
    assert api.artifact("model-registry/iris-classifier:latest").version == "v1"
    assert api.artifact("p/clf:latest").version == "v1"
    got = Path(run.use_model("model-registry/iris-classifier:production"))
    assert got.read_bytes() == b"second weights" * 1000
    assert hashlib.sha256(got.read_bytes()).hexdigest() == second.files()[0].sha256
    run.finish()
    assert sorted(a.version for a in api.artifacts("model-registry")) == ["v0", "v1"]
