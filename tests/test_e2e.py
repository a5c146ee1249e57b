"""python -m cnnfast.bench --e2e: the end-to-end rows (whole models against PyTorch) on the tiny
--quick configuration. No timing is asserted."""
import json

import numpy as np
import pytest

from cnnfast import datasets
from cnnfast.bench import cli, e2e


@pytest.fixture
def data_file(tmp_path):
    raw = datasets.synthetic_chest_xrays(70, 2, 2, size=28)
    path = tmp_path / "pneumonia.npz"
    np.savez(path, **{f"{s}_{k}": v for s, (images, labels) in raw.items()
                      for k, v in (("images", images), ("labels", labels.reshape(-1, 1)))})
    return path


def _run(argv, capsys):
    status = cli.main(argv)
    return status, capsys.readouterr().out


def test_e2e_quick_with_torch(tmp_path, data_file, capsys):
    pytest.importorskip("torch")
    out = tmp_path / "e2e.json"
    status, text = _run(["--e2e", "--quick", "--threads", "1", "--data", str(data_file), "--json", str(out)], capsys)
    assert status == 0
    doc = json.loads(out.read_text())
    assert doc["results"] == []  # --e2e alone: no op table
    rows = doc["e2e"]["results"]
    assert [r["op"] for r in rows] == ["train_on_batch", "predict", "epoch"]
    for r in rows:
        assert r["time_s"] > 0 and r["torch"]["time_s"] > 0
        assert r["ratio_torch"] == pytest.approx(r["time_s"] / r["torch"]["time_s"])
        assert r["shape_label"] in text
    assert rows[2]["samples"] == 70
    assert set(doc["e2e"]["summary"]) == {"train_on_batch", "predict", "epoch"}
    assert "End to end" in text


def test_e2e_without_torch_or_data(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ../shared/data here
    out = tmp_path / "e2e.json"
    status, text = _run(["--e2e", "--quick", "--no-torch", "--json", str(out)], capsys)
    assert status == 0
    rows = json.loads(out.read_text())["e2e"]["results"]
    assert [r["op"] for r in rows] == ["train_on_batch", "predict"]
    assert all("torch" not in r and r["time_s"] > 0 for r in rows)
    assert "epoch not timed: no data file" in text
    assert "no end-to-end comparison" in text


def test_e2e_with_ops_runs_the_op_table_too(tmp_path, capsys):
    status, text = _run(["--e2e", "--quick", "--no-torch", "--no-reference", "--ops", "relu",
                         "--data", str(tmp_path / "missing.npz")], capsys)
    assert status == 0
    assert "\nrelu " in text and "End to end" in text
    assert "epoch not timed" in text and "missing.npz" in text


def test_profile_splits_the_step_by_layer(tmp_path, capsys):
    pytest.importorskip("torch")
    out = tmp_path / "e2e.json"
    status, text = _run(["--e2e", "--quick", "--profile", "--threads", "1", "--json", str(out)], capsys)
    assert status == 0
    profile = json.loads(out.read_text())["e2e"]["profiles"][0]
    train = profile["train_on_batch"]
    kinds = [r["kind"] for r in train["layers"]]
    # the ReLU and max-pooling layers fused into the batch norm have no row
    assert kinds[:3] == ["Conv2D", "BatchNormalization +ReLU +MaxPool", "Conv2D"]
    assert all(r["forward"] > 0 and r["backward"] > 0 for r in train["layers"])
    assert train["optimizer_s"] > 0
    assert "call_with" in profile["predict"]["layers"][0]  # batch norm folded into the conv
    assert profile["torch_train"]["top_ops"] and "torch training step" in text


@pytest.mark.parametrize("flag", [["--data", "x.npz"], ["--profile"]])
def test_e2e_options_need_e2e(flag, capsys):
    with pytest.raises(SystemExit):
        cli.main(flag)
    assert f"{flag[0]} is for --e2e" in capsys.readouterr().err


def test_model_cases_label_the_issue_shapes():
    assert [c.label() for c in e2e.MODELS] == [
        "3 blocks 1x64x64 b32", "4 blocks 1x64x64 b32", "3 blocks 1x128x128 b16", "4 blocks 1x128x128 b16"]
