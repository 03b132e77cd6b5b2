"""Make the snnTorch fixture: train a small ``[784, 32, 10]`` snnTorch network, export it.

``python -m tests.snntorch_fixture`` trains briefly on CPU (well under a minute) on the
sigma-delta spikes of the integer model (``golden.reference.encode``, T = 16), exports the
network with snnTorch's own ``export_to_nir`` and writes

- ``tests/data/snntorch-784-32-10.nir``: the graph as snnTorch wrote it;
- ``tests/data/snntorch-784-32-10.json``: snnTorch's own accuracy on the first 1,000 test
  images (the class with the most output spikes), with the recipe.

``tests/test_nir.py`` imports the graph with ``python -m golden.nir import`` and checks the
integer reference's accuracy on the same images against snnTorch's.
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from golden.mnist import load_split
from golden.reference import encode

DATA = Path(__file__).resolve().parent / "data"
NIR_FILE = DATA / "snntorch-784-32-10.nir"
INFO_FILE = DATA / "snntorch-784-32-10.json"
RECIPE = {"neurons": 32, "timesteps": 16, "beta": 0.9375, "threshold": 1.0, "epochs": 8,
          "batch": 100, "learning_rate": 2e-3, "seed": 0, "train_images": 10000,
          "eval_images": 1000}


def network(neurons: int, beta: float, threshold: float) -> torch.nn.Sequential:
    """``Linear -> Leaky -> Linear -> Leaky`` without biases; per-neuron beta and threshold
    tensors (snnTorch's exporter needs them to give the LIF nodes a shape)."""
    import snntorch as snn

    def leaky(n: int, output: bool = False):
        return snn.Leaky(beta=torch.full((n,), beta), threshold=torch.full((n,), threshold),
                         init_hidden=True, output=output)

    return torch.nn.Sequential(torch.nn.Linear(784, neurons, bias=False), leaky(neurons),
                               torch.nn.Linear(neurons, 10, bias=False), leaky(10, True))


def run(net: torch.nn.Sequential, spikes: torch.Tensor) -> torch.Tensor:
    """Output spikes ``[T, n, 10]`` for input spikes ``[T, n, 784]``."""
    import snntorch.utils

    snntorch.utils.reset(net)
    return torch.stack([net(step)[0] for step in spikes])


def main() -> None:
    import nir
    import snntorch.functional as SF
    from snntorch.export_nir import export_to_nir

    torch.manual_seed(RECIPE["seed"])
    torch.set_num_threads(1)
    t, batch = RECIPE["timesteps"], RECIPE["batch"]
    train = load_split("train").first(RECIPE["train_images"])
    test = load_split("test").first(RECIPE["eval_images"])
    net = network(RECIPE["neurons"], RECIPE["beta"], RECIPE["threshold"])
    optimizer = torch.optim.Adam(net.parameters(), lr=RECIPE["learning_rate"])
    loss_fn = SF.ce_rate_loss()
    rng = np.random.default_rng(RECIPE["seed"])
    start = time.perf_counter()
    for _ in range(RECIPE["epochs"]):
        order = rng.permutation(len(train.images))
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            spikes = torch.from_numpy(encode(train.images[idx], t).astype(np.float32))
            loss = loss_fn(run(net, spikes), torch.from_numpy(train.labels[idx].astype(np.int64)))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    seconds = time.perf_counter() - start
    with torch.no_grad():
        counts = run(net, torch.from_numpy(encode(test.images, t).astype(np.float32))).sum(0)
    accuracy = float((counts.argmax(1).numpy() == test.labels).mean())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # nirtorch's own notice
        graph = export_to_nir(net, torch.zeros(1, 784), ignore_dims=[0])
    DATA.mkdir(exist_ok=True)
    nir.write(NIR_FILE, graph)
    import snntorch

    INFO_FILE.write_text(json.dumps({
        "snntorch_accuracy": accuracy, "images": len(test.labels), "data": test.source,
        "train_seconds": round(seconds, 1), "snntorch": snntorch.__version__,
        "torch": torch.__version__, "nir": nir.version, "recipe": RECIPE,
        "command": "python -m tests.snntorch_fixture"}, indent=2) + "\n")
    print(f"snnTorch accuracy {accuracy:.4f} on {len(test.labels)} test images "
          f"(trained in {seconds:.0f} s); wrote {NIR_FILE.name} and {INFO_FILE.name}")


if __name__ == "__main__":
    main()
