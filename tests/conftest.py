"""Shared fixtures: real MNIST data, committed weights, and ways to run the CLIs."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMMITTED_WEIGHTS = {128: ROOT / "weights" / "mnist-784-128-10.npz",
                     48: ROOT / "weights" / "mnist-784-48-10.npz"}


@pytest.fixture(scope="session")
def test_split():
    from golden.mnist import load_split

    return load_split("test")


@pytest.fixture
def tiny_weights(tmp_path):
    """A valid snn-weights/1 file with random weights, N=12, T=8 (path)."""
    return save_tiny_weights(tmp_path / "tiny.npz", seed=1, meta={"note": "random test weights"})


def save_tiny_weights(path, *, seed: int, meta: dict | None = None):
    """Write a random N = 12, T = 8 network (thresholds 900/200, hidden leak 3) to ``path``
    from ``seed``; return ``path``."""
    import numpy as np

    from golden.weights import Weights, save_weights

    rng = np.random.default_rng(seed)
    extra = {} if meta is None else {"meta": meta}
    save_weights(path, Weights(rng.integers(-127, 128, (784, 12)).astype(np.int8),
                               rng.integers(-127, 128, (12, 10)).astype(np.int8),
                               theta_hidden=900, theta_out=200, leak_hidden=3, leak_out=0,
                               timesteps=8, **extra))
    return path


def run_cli(script: str, *args, env=None) -> subprocess.CompletedProcess:
    """Run ``python <script> args`` from the project root and capture its output."""
    return subprocess.run([sys.executable, str(ROOT / script), *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, env=env, timeout=600)


def assert_one_line_error(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    """Exit code 2, a single 'error:' line naming ``fragments``, and no traceback."""
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="session")
def bad_files(tmp_path_factory):
    """Damaged weights files and MNIST directories of the bad-input suite (by name)."""
    from tests.bad_input import make_files

    return make_files(tmp_path_factory.mktemp("bad-input"))


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A bad-input case's working directory (the real MNIST data, wherever it is run)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MNIST_DIR", str(ROOT.parent / "shared" / "datasets" / "mnist"))
    return tmp_path


@pytest.fixture
def no_work(monkeypatch):
    """Long work (synthesis, RTL simulation, a serial port) must never start in this suite."""
    def refuse(*args, **kwargs):
        raise AssertionError("a bad input reached the long work")

    import boards.bitstream
    import flows.build
    import flows.verify

    monkeypatch.setattr(flows.verify, "verify", refuse)
    monkeypatch.setattr(flows.build, "synthesize", refuse)
    monkeypatch.setattr(boards.bitstream, "find_tool", refuse)
    monkeypatch.setattr("boards.model.serve_pty", refuse)
