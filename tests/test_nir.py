"""NIR interchange (``python -m golden.nir``): round trips, snnTorch and Norse, bad graphs."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from golden.errors import run_cli
from golden.nir import main
from golden.reference import infer
from golden.weights import load_weights
from tests.conftest import COMMITTED_WEIGHTS, ROOT, assert_one_line_error

FIXTURE = ROOT / "tests" / "data" / "snntorch-784-32-10.nir"
FIXTURE_INFO = ROOT / "tests" / "data" / "snntorch-784-32-10.json"
NIRTORCH_NOTICE = "ignore:nirtorch.extract_nir_graph is being deprecated:DeprecationWarning"
TORCH_JIT_NOTICE = "ignore:`torch.jit.script` is deprecated:DeprecationWarning"


def cli(capsys, *argv) -> tuple[int, str, str]:
    code = run_cli(main, [str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def import_json(capsys, graph, out, *extra) -> dict:
    code, stdout, stderr = cli(capsys, "import", graph, "--out", out, "--json", *extra)
    assert code == 0, stderr
    return json.loads(stdout)


@pytest.mark.parametrize("n", sorted(COMMITTED_WEIGHTS))
def test_round_trip_is_exact(n, tmp_path, capsys, test_split):
    graph, back = tmp_path / "net.nir", tmp_path / "back.npz"
    assert cli(capsys, "export", "--weights", COMMITTED_WEIGHTS[n], "--out", graph)[0] == 0
    report = import_json(capsys, graph, back)
    assert report["notes"] == []
    original, imported = load_weights(COMMITTED_WEIGHTS[n]), load_weights(back)
    np.testing.assert_array_equal(imported.w_hidden, original.w_hidden)
    np.testing.assert_array_equal(imported.w_out, original.w_out)
    for name in ("theta_hidden", "theta_out", "leak_hidden", "leak_out", "timesteps"):
        assert getattr(imported, name) == getattr(original, name), name
    before = infer(original.w_hidden, original.w_out, test_split.images, original.config())
    after = infer(imported.w_hidden, imported.w_out, test_split.images, imported.config())
    np.testing.assert_array_equal(after.pred, before.pred)
    np.testing.assert_array_equal(after.counts, before.counts)


def test_leaky_round_trip_and_metadata(tiny_weights, tmp_path, capsys):
    import nir

    graph, back = tmp_path / "net.nir", tmp_path / "back.npz"
    assert cli(capsys, "export", "--weights", tiny_weights, "--out", graph)[0] == 0
    read = nir.read(graph)
    assert [type(read.nodes[k]).__name__ for k in ("fc1", "lif1", "fc2", "lif2")] == [
        "Linear", "LIF", "Linear", "IF"]
    lif = read.nodes["lif1"]
    np.testing.assert_allclose(lif.tau / read.metadata["dt"], 8.0)
    np.testing.assert_allclose(lif.r, 8.0)
    for key in ("reset", "encoding", "timesteps", "weight_scale", "block_size", "leak"):
        assert key in read.metadata, key
    import_json(capsys, graph, back, "--timesteps", "5")
    original, imported = load_weights(tiny_weights), load_weights(back)
    np.testing.assert_array_equal(imported.w_hidden, original.w_hidden)
    assert (imported.leak_hidden, imported.leak_out, imported.timesteps) == (3, 0, 5)


def test_snntorch_fixture_accuracy(tmp_path, capsys):
    """The committed snnTorch network (tests/snntorch_fixture.py): the integer reference's
    accuracy on the first 1,000 test images is within 3 pp of snnTorch's own."""
    info = json.loads(FIXTURE_INFO.read_text())
    report = import_json(capsys, FIXTURE, tmp_path / "w.npz", "--limit", info["images"],
                         "--data-dir", ROOT.parent / "shared" / "datasets" / "mnist")
    ours = report["reference"]["accuracy"]
    print(f"snnTorch {info['snntorch_accuracy']:.4f}, integer reference {ours:.4f}")
    assert report["reference"]["images"] == info["images"] == 1000
    assert abs(ours - info["snntorch_accuracy"]) <= 0.03
    assert [layer["leak"] for layer in report["layers"]] == [4, 4]  # beta 0.9375 = 1 - 2**-4
    assert all(layer["weight_max_error_lsb"] <= 0.5 for layer in report["layers"])
    assert report["notes"]  # snnTorch writes no reset rule: the note says which one we use


@pytest.mark.filterwarnings(NIRTORCH_NOTICE)
def test_snntorch_exporter_output_imports(tmp_path, capsys):
    import nir
    import torch
    from snntorch.export_nir import export_to_nir

    from tests.snntorch_fixture import network

    torch.manual_seed(1)
    net = torch.nn.Sequential(torch.nn.Flatten(), *network(20, 0.9, 1.5))  # 28 x 28 images
    graph = export_to_nir(net, torch.zeros(1, 1, 28, 28), ignore_dims=[0])
    nir.write(tmp_path / "s.nir", graph)
    report = import_json(capsys, tmp_path / "s.nir", tmp_path / "s.npz")
    weights = load_weights(tmp_path / "s.npz")
    w1 = net[1].weight.detach().numpy().T
    scale = report["layers"][0]["scale"]
    np.testing.assert_array_equal(weights.w_hidden, np.rint(w1 * scale).astype(np.int8))
    assert weights.theta_hidden == round(1.5 * scale)
    assert weights.leak_hidden == 3  # tau = 10 dt: log2 10 = 3.3 -> k = 3
    assert weights.timesteps == 16


@pytest.mark.filterwarnings(NIRTORCH_NOTICE)
def test_snntorch_imports_our_export(tiny_weights, tmp_path, capsys):
    import nir
    import snntorch as snn
    import torch
    from snntorch.import_nir import import_from_nir

    assert cli(capsys, "export", "--weights", tiny_weights, "--out", tmp_path / "n.nir")[0] == 0
    module = import_from_nir(nir.read(tmp_path / "n.nir"))
    capsys.readouterr()  # snnTorch prints its own notes
    weights = load_weights(tiny_weights)
    layers = dict(module.named_modules())
    np.testing.assert_array_equal(layers["fc1"].weight.detach().numpy(), weights.w_hidden.T)
    np.testing.assert_array_equal(layers["fc2"].weight.detach().numpy(), weights.w_out.T)
    assert isinstance(layers["lif1"], snn.Leaky)
    np.testing.assert_allclose(layers["lif1"].beta.detach().numpy(), 1 - 2**-3, rtol=1e-6)
    np.testing.assert_allclose(layers["lif1"].threshold.detach().numpy(), weights.theta_hidden)
    assert isinstance(module(torch.zeros(1, 784)), tuple | torch.Tensor)


@pytest.mark.filterwarnings(TORCH_JIT_NOTICE, NIRTORCH_NOTICE)
def test_norse_export_imports(tmp_path, capsys):
    pytest.importorskip("norse")
    import nir
    import norse.torch as norse
    import torch

    torch.manual_seed(2)
    model = norse.SequentialState(torch.nn.Linear(784, 20, bias=False), norse.LIFBoxCell(),
                                  torch.nn.Linear(20, 10, bias=False), norse.LIFBoxCell())
    graph = norse.to_nir(model, torch.zeros(1, 784))
    nir.write(tmp_path / "n.nir", graph, compression=None)  # Norse's scalars refuse gzip
    # Norse writes tau = dt / tau_mem_inv (1e-5 s for its defaults), so one step of 1 ms is
    # dt = 1e-6 in the graph's units: decay 1 - 0.1 = 0.9 and input gain 0.1.
    report = import_json(capsys, tmp_path / "n.nir", tmp_path / "n.npz", "--dt", "1e-6")
    weights = load_weights(tmp_path / "n.npz")
    w1 = model[0].weight.detach().numpy().T
    scale = report["layers"][0]["scale"]
    np.testing.assert_array_equal(weights.w_hidden, np.rint(w1 * scale).astype(np.int8))
    assert weights.theta_hidden == round(1.0 / 0.1 * scale)  # Norse's v_th = 1
    assert (weights.leak_hidden, weights.leak_out) == (3, 3)  # decay 0.9 -> 1 - 2**-3


def bad_graph(kind: str):
    """A NIR graph that breaks one import rule."""
    import nir

    rng = np.random.default_rng(0)

    def lif(n):
        return nir.LIF(tau=np.full(n, 1e-3), r=np.full(n, 10.0), v_leak=np.zeros(n),
                       v_threshold=np.ones(n), v_reset=np.zeros(n))

    nodes = {"input": nir.Input(input_type={"input": np.array([784])}),
             "fc1": nir.Linear(weight=rng.normal(size=(16, 784))), "lif1": lif(16),
             "fc2": nir.Linear(weight=rng.normal(size=(10, 16))), "lif2": lif(10),
             "output": nir.Output(output_type={"output": np.array([10])})}
    edges = [("input", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"),
             ("lif2", "output")]
    if kind == "conv":
        nodes["fc1"] = nir.Conv2d(input_shape=(28, 28), weight=np.ones((16, 1, 3, 3)),
                                  stride=1, padding=0, dilation=1, groups=1, bias=np.zeros(16))
    elif kind == "cuba":
        n = 16
        nodes["lif1"] = nir.CubaLIF(tau_syn=np.full(n, 1e-3), tau_mem=np.full(n, 1e-3),
                                    r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.ones(n))
    elif kind == "recurrent":
        nodes["rec"] = nir.Linear(weight=np.eye(16))
        edges += [("lif1", "rec"), ("rec", "lif1")]
    elif kind == "shape":
        nodes["fc2"] = nir.Linear(weight=rng.normal(size=(12, 16)))
    elif kind == "bias":
        nodes["fc1"] = nir.Affine(weight=rng.normal(size=(16, 784)), bias=np.full(16, 0.5))
    elif kind == "threshold":
        nodes["lif2"].v_threshold = -np.ones(10)
    elif kind == "gain":
        nodes["lif1"].r = np.zeros(16)
    elif kind == "transposed":
        nodes["fc1"] = nir.Linear(weight=rng.normal(size=(784, 16)))
    elif kind == "zero-bias":
        nodes["fc1"] = nir.Affine(weight=rng.normal(size=(16, 784)), bias=np.zeros(16))
    metadata = {"timesteps": "many"} if kind == "steps" else {}
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False, metadata=metadata)


@pytest.mark.parametrize("kind, fragments", [
    ("conv", ("'fc1'", "Conv2d")), ("cuba", ("'lif1'", "CubaLIF", "synaptic current")),
    ("recurrent", ("from 'rec' to 'lif1'", "recurrent")), ("shape", ("'fc2'", "[12, 16]")),
    ("bias", ("'fc1'", "non-zero bias")), ("threshold", ("'lif2'", "v_threshold = -1")),
    ("gain", ("'lif1'", "r = 0")), ("transposed", ("'fc1'", "[784, 16]", "[N, 784]")),
    ("steps", ("timesteps", "'many'"))])
def test_unsupported_graph_is_one_error(kind, fragments, tmp_path, capsys):
    import nir

    nir.write(tmp_path / "bad.nir", bad_graph(kind))
    code, out, err = cli(capsys, "import", tmp_path / "bad.nir", "--out", tmp_path / "w.npz")
    assert_one_line_error(subprocess.CompletedProcess([], code, out, err), *fragments)
    assert not (tmp_path / "w.npz").exists()


def test_zero_bias_and_default_steps(tmp_path, capsys):
    import nir

    nir.write(tmp_path / "ok.nir", bad_graph("zero-bias"))
    report = import_json(capsys, tmp_path / "ok.nir", tmp_path / "w.npz")
    assert report["timesteps"] == 16 and report["layers"][0]["leak"] == 3  # tau / dt = r = 10


def test_bad_files_from_the_command_line(tmp_path):
    (tmp_path / "junk.nir").write_bytes(b"not a graph at all")
    import h5py

    with h5py.File(tmp_path / "empty.nir", "w") as f:
        f.create_dataset("version", data="1.0")
    for name, fragment in (("missing.nir", "does not exist"), ("junk.nir", "not HDF5"),
                           ("empty.nir", "not a readable NIR graph")):
        proc = subprocess.run([sys.executable, "-m", "golden.nir", "import",
                               str(tmp_path / name), "--out", str(tmp_path / "w.npz")],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert_one_line_error(proc, fragment)
    assert not (tmp_path / "w.npz").exists()


@pytest.mark.parametrize("name", ["text", "truncated", "flip-3", "npy-as-npz", "directory"])
def test_export_of_damaged_weights(bad_files, name, tmp_path, capsys):
    path = bad_files["weights"][name]
    code, out, err = cli(capsys, "export", "--weights", path, "--out", tmp_path / "n.nir")
    if code == 0:  # a flip that hit nothing the file's meaning depends on
        return
    assert_one_line_error(subprocess.CompletedProcess([], code, out, err), str(path))
    assert not (tmp_path / "n.nir").exists()


def test_damaged_graphs(tiny_weights, tmp_path, capsys):
    """Cut and flipped .nir files: a correct import or one error line, never a traceback."""
    good = tmp_path / "good.nir"
    assert cli(capsys, "export", "--weights", tiny_weights, "--out", good)[0] == 0
    data = good.read_bytes()
    rng = np.random.default_rng(5)
    variants = {f"cut-{n}": data[:n] for n in (8, 512, len(data) // 2, len(data) - 1)}
    for i in range(12):
        flipped = bytearray(data)
        for at in rng.integers(0, len(data), 4):
            flipped[at] ^= 0xFF
        variants[f"flip-{i}"] = bytes(flipped)
    for name, content in variants.items():
        (tmp_path / f"{name}.nir").write_bytes(content)
        out = tmp_path / f"{name}.npz"
        code, stdout, err = cli(capsys, "import", tmp_path / f"{name}.nir", "--out", out)
        if code == 0:
            assert load_weights(out).n_hidden == 12, name
            continue
        assert_one_line_error(subprocess.CompletedProcess([], code, stdout, err))
        assert not out.exists(), name
