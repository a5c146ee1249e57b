"""The benchmark runner (python -m cnnfast.bench): end-to-end quick runs, shape files, options.

Ops are replaced by stand-ins here (cheap NumPy functions of the right signature) so the harness
is tested whatever is in C yet. No timing is asserted."""
import dataclasses
import json
import math
import os
import subprocess
import sys
import time
import types

import numpy as np
import pytest

import cnnfast
from cnnfast.bench import cli, main, registry, report, runner, shapes, timing

# The project's shared shape lists (../shared/shapes beside the repository, or shared/ inside it).
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_SHAPES = next((p for p in (os.path.join(_ROOT, "..", "shared", "shapes"),
                                  os.path.join(_ROOT, "shared", "shapes")) if os.path.isdir(p)), None)


# ---------------------------------------------------------------------------------------------
# Stand-ins: any function of the registry, with outputs of the right shapes where a backward
# case needs them.

def _copy(*args, **kwargs):
    return args[0].copy()


def _drawn(x, *args, **kwargs):
    return x.copy(), np.ones_like(x)


def _max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel_size, stride, padding, dilation
    oh = shapes._out_size(h, kh, sh, ph, dh, ceil_mode)
    ow = shapes._out_size(w, kw, sw, pw, dw, ceil_mode)
    return np.zeros((n, c, oh, ow), x.dtype), np.zeros((n, c, oh, ow), np.int64)


def _batch_norm(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    return x.copy(), np.zeros(x.shape[1], x.dtype), np.ones(x.shape[1], x.dtype)


def _batch_norm_relu_max_pool2d(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5,
                                kernel_size=2):
    n, c, h, w = x.shape
    y = np.zeros((n, c, h // kernel_size, w // kernel_size), x.dtype)
    return y, np.zeros(c, x.dtype), np.ones(c, x.dtype), np.zeros(y.shape, np.uint8)


def _conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, activation=None):
    return x.copy()


def standin(names=None, **special):
    funcs = {op.func: _copy for op in registry.REGISTRY}
    funcs.update(rrelu=_drawn, noisy_relu=_drawn, dropout=_drawn, gaussian_noise=_drawn,
                 max_pool2d=_max_pool2d, batch_norm=_batch_norm, batch_norm_relu=_batch_norm, conv2d=_conv2d,
                 batch_norm_relu_max_pool2d=_batch_norm_relu_max_pool2d)
    if names is not None:
        funcs = {k: v for k, v in funcs.items() if k in names}
    funcs.update(special)
    return types.SimpleNamespace(**funcs)


def run(args, lib, ref=None, capsys=None):
    status = main(args, lib=lib, ref=types.SimpleNamespace() if ref is None else ref)
    text = capsys.readouterr().out if capsys else ""
    return status, text


def load(path):
    with open(path) as f:
        return json.load(f)


def check_document(doc):
    machine = doc["machine"]
    for key in ("cpu", "cpus_available", "isa", "threads", "numpy", "torch", "cnnfast", "python"):
        assert key in machine
    assert doc["copyto"]["gbps"] > 0
    for r in doc["results"]:
        assert r["op"] in {op.name for op in registry.REGISTRY}
        assert r["dtype"] in ("float32", "float64")
        if "note" in r and r["note"].startswith(("error", "not timed")):
            continue
        assert r["time_s"] > 0 and math.isfinite(r["time_s"])
        assert r["reps"] >= 1 and r["inner"] >= 1
        assert ("gflops" in r) != ("gbps" in r)
        if "gflops" in r:
            assert r["flops"] > 0 and r["fraction_of_peak"] > 0
        else:
            assert r["bytes"] > 0 and r["fraction_of_copy"] > 0


# ---------------------------------------------------------------------------------------------
# End to end

def test_quick_json_without_torch(tmp_path, capsys):
    out = tmp_path / "r.json"
    lib = standin({"relu", "relu_backward", "linear", "dropout", "dropout_backward", "softmax"})
    ref = standin({"relu", "linear"})
    status, text = run(["--quick", "--json", str(out), "--no-torch", "--dtype", "both"], lib, ref, capsys)
    assert status == 0
    doc = load(out)
    check_document(doc)
    got = {(r["op"], r["dtype"]) for r in doc["results"]}
    assert got == {(op, dt) for op in ("relu", "relu_backward", "linear", "dropout", "dropout_backward",
                                       "softmax") for dt in ("float32", "float64")}
    assert doc["machine"]["torch"] is None
    assert doc["settings"]["argv"] == ["--quick", "--json", str(out), "--no-torch", "--dtype", "both"]
    assert all("ratio_torch" not in r for r in doc["results"])
    assert all(("ratio_reference" in r) == (r["op"] in ("relu", "linear")) for r in doc["results"])
    assert "conv2d" in doc["not_in_c"] and "relu" not in doc["not_in_c"]
    assert "< 1 means cnnfast is faster" in text
    assert "Not in C yet (not timed): " in text
    assert doc["not_in_reference"] == ["relu_backward", "dropout", "dropout_backward", "softmax"]
    assert "Not in cnnfast.reference yet (ref column n/a): relu_backward, dropout" in text
    linear = next(r for r in doc["results"] if r["op"] == "linear" and r["dtype"] == "float32")
    shp = shapes.QUICK["dense"][0]
    assert linear["flops"] == 2 * shp.n * shp.fin * shp.fout
    relu = next(r for r in doc["results"] if r["op"] == "relu" and r["dtype"] == "float64")
    assert relu["bytes"] == 2 * 8 * math.prod(shapes.QUICK["nchw"][0].dims)


def test_quick_every_registry_entry_with_torch(tmp_path, capsys):
    """Every entry's inputs, its torch twin (forward, or autograd backward) and its work count run."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    out = tmp_path / "r.json"
    status, text = run(["--quick", "--threads", "1", "--json", str(out)], standin(), capsys=capsys)
    assert status == 0, text
    doc = load(out)
    check_document(doc)
    assert doc["not_in_c"] == []
    assert {r["op"] for r in doc["results"]} == {op.name for op in registry.REGISTRY}
    assert all(r["ratio_torch"] > 0 for r in doc["results"]), [r.get("note") for r in doc["results"]]
    assert doc["machine"]["threads"] == 1
    assert torch.get_num_threads() == before


def test_torch_not_importable(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch", None)
    assert runner.load_torch() is None
    status, text = run(["--quick", "--ops", "relu"], standin({"relu"}), capsys=capsys)
    assert status == 0
    assert "torch not available" in text and "n/a" in text


def test_allocator_settled_before_anything_is_timed(monkeypatch, capsys):
    """The runner frees one 16 MB block before timing (timing.settle_allocator: glibc then keeps
    blocks below that in its heap, as in any process that has freed a tensor that large)."""
    events = []
    monkeypatch.setattr(timing, "settle_allocator", lambda: events.append("settled"))
    real = timing.alternate
    monkeypatch.setattr(timing, "alternate", lambda *a, **k: events.append("timed") or real(*a, **k))
    status, _ = run(["--quick", "--no-torch", "--ops", "relu"], standin({"relu"}), capsys=capsys)
    assert status == 0 and events[0] == "settled" and "timed" in events


def test_module_entry_point_quick_json(tmp_path):
    """`python -m cnnfast.bench --quick --json` on the real package, whatever it has in C."""
    out = tmp_path / "r.json"
    # The cnnfast this test imported (an installed one, or the in-place build of a source tree).
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(cnnfast.__file__)))
    proc = subprocess.run([sys.executable, "-m", "cnnfast.bench", "--quick", "--no-torch", "--json", str(out)],
                          capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    doc = load(out)
    check_document(doc)
    assert doc["errors"] == 0


def test_op_error_is_reported_and_sets_exit_status(capsys):
    def broken(x):
        raise ValueError("x: broken stand-in")

    status, text = run(["--quick", "--ops", "relu,sigmoid", "--no-torch"], standin({"sigmoid"}, relu=broken),
                       capsys=capsys)
    assert status == 1
    assert "error in cnnfast: ValueError: x: broken stand-in" in text
    assert "sigmoid" in text


def test_backward_without_any_forward_is_noted(capsys):
    status, text = run(["--quick", "--ops", "dropout_backward", "--no-torch"], standin({"dropout_backward"}),
                       capsys=capsys)
    assert status == 0
    assert "not timed: needs dropout" in text


def test_nothing_in_c(capsys):
    status, text = run(["--quick", "--ops", "conv"], types.SimpleNamespace(), capsys=capsys)
    assert status == 0
    assert "nothing to time" in text
    assert "conv2d, conv2d_backward, conv2d_relu, conv_transpose2d, conv_transpose2d_backward" in text


def test_keyword_op_needs_the_keyword(tmp_path, capsys):
    """conv2d_relu is conv2d(..., activation='relu'): timed only when conv2d takes `activation`."""
    out = tmp_path / "r.json"
    status, _ = run(["--quick", "--no-torch", "--ops", "conv2d,conv2d_relu", "--json", str(out)],
                    standin({"conv2d"}, conv2d=_copy), capsys=capsys)
    assert status == 0
    doc = load(out)
    assert doc["not_in_c"] == ["conv2d_relu"] and {r["op"] for r in doc["results"]} == {"conv2d"}
    status, _ = run(["--quick", "--no-torch", "--ops", "conv2d_relu", "--json", str(out)], standin({"conv2d"}),
                    ref=standin({"conv2d"}, conv2d=_copy), capsys=capsys)
    doc = load(out)
    assert status == 0 and doc["not_in_reference"] == ["conv2d_relu"]
    assert [r["op"] for r in doc["results"]] == ["conv2d_relu"]


def test_list(capsys):
    status, text = run(["--list"], standin({"relu"}), ref=standin({"relu", "sigmoid"}), capsys=capsys)
    assert status == 0
    lines = {line.split()[0]: line.split()[3:] for line in text.splitlines()}
    assert lines["relu"] == ["in", "C", "yes"]
    assert lines["sigmoid"] == ["not", "in", "C", "yet", "yes"]
    assert lines["tanh"] == ["not", "in", "C", "yet", "not", "yet"]


# ---------------------------------------------------------------------------------------------
# Shape files

CONV_CSV = """name,g,ic,ih,iw,oc,oh,ow,kh,kw,sh,sw,ph,pw,dh,dw
net:stem,1,3,224,224,64,112,112,7,7,2,2,3,3,1,1
net:dw*3,32,32,56,56,32,56,56,3,3,1,1,1,1,1,1
net:up,1,32,28,28,16,14,14,2,2,2,2,0,0,1,1
"""
POOL_CSV = """name,alg_hint,c,ih,iw,oh,ow,kh,kw,sh,sw,ph,pw,dh,dw,ph_r,pw_r,ceil_mode
net:max1,max,64,112,112,56,56,3,3,2,2,0,0,1,1,1,1,1
net:avg,avg,2048,7,7,1,1,7,7,1,1,0,0,1,1,0,0,0
"""
BNORM_CSV = """name,c,ih,iw
net:bn1,64,112,112
net:bn2*4,256,56,56
"""


def write(tmp_path, text, name="s.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_csv_conv(tmp_path):
    kind, found = shapes.read_csv(write(tmp_path, CONV_CSV))
    assert kind == "conv"
    stem, dw, up = found
    assert (stem.n, stem.c, stem.h, stem.k, stem.r, stem.stride, stem.padding) == (8, 3, 224, 64, 7, (2, 2), (3, 3))
    assert (stem.p, stem.q) == (112, 112)
    assert stem.flops == 2 * 8 * 64 * 3 * 49 * 112 * 112
    assert (dw.name, dw.count, dw.groups) == ("net:dw", 3, 32)
    assert dw.flops == 2 * 8 * 32 * 1 * 9 * 56 * 56
    assert up.transpose_output_padding() == (0, 0)


def test_csv_pool_and_bnorm(tmp_path):
    kind, (mx, avg) = shapes.read_csv(write(tmp_path, POOL_CSV), batch=2)
    assert kind == "pool"
    assert (mx.n, mx.alg, mx.kernel, mx.stride, mx.ceil_mode, mx.out) == (2, "max", (3, 3), (2, 2), True, (56, 56))
    assert avg.is_global and not mx.is_global
    kind, (a, b) = shapes.read_csv(write(tmp_path, BNORM_CSV))
    assert kind == "bnorm"
    assert (a.n, a.c, a.h, a.w, a.count) == (16, 64, 112, 112, 1)
    assert (b.name, b.count, b.c) == ("net:bn2", 4, 256)


@pytest.mark.parametrize("text, message", [
    ("", "empty file"),
    ("name,c,ih\nx,1,2\n", "unknown header"),
    ("name,c,ih,iw\n", "no shapes"),
    ("name,c,ih,iw\nx,1,2\n", ":2: 3 fields, the header has 4"),
    ("name,c,ih,iw\nx,1,two,3\n", ":2: ih must be an integer, got 'two'"),
    ("name,c,ih,iw\nx,0,2,3\n", ":2: c must be >= 1, got 0"),
    (CONV_CSV.replace("112,112,7,7", "111,112,7,7"), ":2: oh,ow = 111,112 but the geometry gives 112,112"),
    (CONV_CSV.replace("32,32,56", "3,32,56"), ":3: g=3 must divide ic=32 and oc=32"),
    (POOL_CSV.replace("max,64", "min,64"), ":2: alg_hint must be 'max' or 'avg', got 'min'"),
    (POOL_CSV.replace("1,1,1\n", "1,1,2\n"), ":2: ceil_mode must be 0 or 1, got 2"),
])
def test_csv_errors(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(shapes.ShapeFileError) as info:
        shapes.read_csv(path)
    assert message in str(info.value) and path in str(info.value)


def test_csv_missing_file(tmp_path):
    with pytest.raises(shapes.ShapeFileError, match="cannot read"):
        shapes.read_csv(str(tmp_path / "nope.csv"))


def test_shared_shape_files_all_parse():
    if SHARED_SHAPES is None:
        pytest.skip("../shared/shapes is not here")
    files = sorted(f for f in os.listdir(SHARED_SHAPES) if f.endswith(".csv"))
    assert files
    for name in files:
        kind, found = shapes.read_csv(os.path.join(SHARED_SHAPES, name))
        assert name.startswith(kind + "_") and found


def test_shapes_option_replaces_that_kind_and_selects_its_ops(tmp_path, capsys):
    conv = write(tmp_path, CONV_CSV, "c.csv")
    bn = write(tmp_path, BNORM_CSV, "b.csv")
    out = tmp_path / "r.json"
    status, _ = run(["--quick", "--no-torch", "--shapes", conv, "--shapes", bn, "--batch", "1",
                     "--json", str(out)], standin({"conv2d", "conv_transpose2d", "batch_norm", "relu"}),
                    capsys=capsys)
    assert status == 0
    results = load(out)["results"]
    assert {r["op"] for r in results} == {"conv2d", "conv2d_relu", "conv_transpose2d", "batch_norm", "batch_norm_eval"}
    assert all(r["shape"]["n"] == 1 for r in results)
    assert sorted(r["shape"]["name"] for r in results if r["op"] == "conv2d") == ["net:dw", "net:stem", "net:up"]
    assert sum(r["op"] == "batch_norm" for r in results) == 2


# ---------------------------------------------------------------------------------------------
# Options

@pytest.mark.parametrize("args, message", [
    (["--threads", "0"], "argument --threads: must be >= 1, got 0"),
    (["--threads", "two"], "argument --threads: expected a positive integer, got 'two'"),
    (["--batch", "-1"], "argument --batch: must be >= 1, got -1"),
    (["--peak", "0"], "argument --peak: must be a finite number > 0, got 0"),
    (["--peak", "nan"], "argument --peak: must be a finite number > 0, got nan"),
    (["--seconds", "0"], "argument --seconds: must be a finite number > 0, got 0"),
    (["--dtype", "float16"], "argument --dtype: invalid choice: 'float16'"),
    (["--ops", "relu,frobnicate"], "--ops: unknown op or family 'frobnicate'"),
    (["--ops", ","], "--ops: empty list"),
    (["--shapes", "/nonexistent/x.csv"], "--shapes: /nonexistent/x.csv: cannot read"),
    (["--json", "/nonexistent/dir/r.json"], "--json: folder '/nonexistent/dir' does not exist"),
])
def test_option_errors(args, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(args, lib=types.SimpleNamespace(), ref=types.SimpleNamespace())
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_ops_selects_names_and_families_in_registry_order():
    pool = [op.name for op in registry.REGISTRY if op.family == "pool"]
    assert [op.name for op in cli.select_ops(None, "pool,relu", [])] == ["relu"] + pool
    assert cli.select_ops(None, "all", []) == registry.REGISTRY
    assert [op.name for op in cli.select_ops(None, None, ["pool"])] == pool


def test_registry_entries_are_consistent():
    names = [op.name for op in registry.REGISTRY]
    assert len(names) == len(set(names))
    for op in registry.REGISTRY:
        assert op.family in registry.FAMILIES
        assert op.shapes in shapes.DEFAULT and op.shapes in shapes.QUICK
        assert any(op.accepts(s) for s in shapes.DEFAULT[op.shapes]), op.name
        assert any(op.accepts(s) for s in shapes.QUICK[op.shapes]), op.name


def test_alternate_starts_each_turn_with_untimed_calls():
    """Two candidates: each turn first calls its candidate untimed for timing.SWITCH_S (the other's
    OpenMP threads spin for a while after its call); one candidate alone: no such calls."""
    calls = {"a": 0, "b": 0}

    def make(label):
        def f():
            calls[label] += 1
            time.sleep(0.0002)
        return f

    budget = timing.Budget(seconds=0.0, min_reps=3, max_reps=3, sample_s=0.0001, ref_seconds=0.0, ref_skip_s=0.0)
    res = timing.alternate({"a": make("a"), "b": make("b")}, budget)
    assert res["a"].reps == res["b"].reps == 3 and res["a"].inner == 1
    per_turn = math.ceil(timing.SWITCH_S / 0.0002 / 2)  # sleeps overshoot: at least half as many
    assert calls["a"] >= 2 + 3 * (per_turn + 1) and calls["b"] >= 2 + 3 * (per_turn + 1)
    calls["a"] = 0
    timing.alternate({"a": make("a")}, budget)
    assert calls["a"] == 2 + 3


def test_traffic_bytes_counts_arrays_once():
    x = np.zeros((4, 5), np.float32)
    case = registry.Case((x, np.zeros(5, np.float32), (4, 5)), {"axis": -1, "w": np.zeros(3, np.float64)})
    assert runner.traffic_bytes(case, (x, [np.zeros(2, np.int64)], None)) == 80 + 20 + 24 + 80 + 16


def test_input_cache_is_bounded_and_shared():
    inputs = runner.Inputs(None, None, cache_bytes=1000)
    a = inputs.randn((10, 10), np.float32)
    assert inputs.randn((10, 10), np.float32) is a
    assert inputs.randn((10, 10), np.float32, "dy") is not a
    b = inputs.randn((10, 10), np.float64)
    assert inputs.randn((10, 10), np.float64) is b
    assert inputs.randn((10, 10), np.float32) is not a  # evicted: 400 + 400 + 800 bytes > 1000


def test_no_reference(tmp_path, capsys):
    out = tmp_path / "r.json"
    status, text = run(["--quick", "--no-torch", "--no-reference", "--ops", "relu", "--json", str(out)],
                       standin({"relu"}), ref=standin({"relu"}), capsys=capsys)
    assert status == 0 and "--no-reference" in text
    assert all("ratio_reference" not in r and "reference" not in r for r in load(out)["results"])


def test_seconds_sets_the_sampling_time_and_cap(tmp_path, capsys):
    out = tmp_path / "r.json"
    status, _ = run(["--quick", "--no-torch", "--no-reference", "--seconds", "0.05", "--ops", "relu",
                     "--json", str(out)], standin({"relu"}), capsys=capsys)
    doc = load(out)
    assert status == 0
    assert doc["settings"]["budget"]["seconds"] == 0.05
    assert doc["settings"]["budget"]["max_reps"] == 25  # the quick cap, 5, times 0.05 / 0.01
    reps = [r["reps"] for r in doc["results"]]
    assert reps and all(5 <= n <= 25 for n in reps)


def test_summary_geomeans_and_forward_plus_backward():
    def rec(op, label, t, torch_t, dtype="float32"):
        return {"op": op, "dtype": dtype, "shape_label": label, "time_s": t, "torch": {"time_s": torch_t},
                "ratio_torch": t / torch_t}

    results = [rec("max_pool2d", "a", 1.0, 4.0), rec("max_pool2d", "b", 1.0, 1.0),
               rec("max_pool2d_backward", "a", 3.0, 4.0), rec("max_pool2d_backward", "b", 2.0, 1.0),
               rec("relu", "a", 1.0, 2.0)]
    summary = {s["op"]: s for s in report.summarise(results)}
    assert summary["max_pool2d"]["torch_geomean"] == pytest.approx(0.5)
    assert summary["max_pool2d"]["torch_worst"] == 1.0
    assert summary["max_pool2d_backward"]["torch_shapes"] == 2
    both = summary["max_pool2d+backward"]
    assert both["torch_geomean"] == pytest.approx(math.sqrt(0.5 * 1.5)) and both["torch_worst"] == 1.5
    assert "relu+backward" not in summary and "reference_geomean" not in summary["relu"]


def test_torch_twin_failure_is_a_note_not_a_crash(monkeypatch, capsys):
    pytest.importorskip("torch")

    def broken_twin(torch, case):
        def fail():
            raise RuntimeError("no such kernel")
        return fail

    relu = next(op for op in registry.REGISTRY if op.name == "relu")
    monkeypatch.setattr(registry, "REGISTRY", [dataclasses.replace(relu, torch=broken_twin)])
    status, text = run(["--quick", "--ops", "relu"], standin({"relu"}), capsys=capsys)
    assert status == 0
    assert "torch failed: RuntimeError: no such kernel" in text


def test_slow_reference_is_skipped_from_a_batch_1_pilot(tmp_path, capsys):
    import time

    def slow_relu(x):
        time.sleep(0.1 * x.shape[0])
        return x.copy()

    out = tmp_path / "r.json"
    status, text = run(["--quick", "--no-torch", "--ops", "relu,sigmoid", "--batch", "4", "--json", str(out)],
                       standin({"relu", "sigmoid"}), ref=standin({"sigmoid"}, relu=slow_relu), capsys=capsys)
    assert status == 0
    relu, sigmoid = load(out)["results"]
    assert relu["reference"]["skipped"] and relu["reference"]["predicted_s"] == pytest.approx(0.4, rel=0.5)
    assert "ratio_reference" not in relu and "ref skipped (one run ~" in text
    assert sigmoid["ratio_reference"] > 0
