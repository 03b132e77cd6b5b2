"""The mapping between a weights file and a NIR graph (the ``nir`` package), both ways.

Export writes ``Input[784] -> Linear -> LIF|IF -> Linear -> LIF|IF -> Output[10]`` in integer
units: weights are the sign-magnitude integers (as floats), thresholds are theta, and the leak
``v -= v >> k`` is a LIF with ``tau = 2**k * dt``, ``r = 2**k``, ``v_leak = 0`` (an IF with
``r = 1`` when ``k = 0``), so one step of the NIR neuron is ``v = (1 - 2**-k) v + W x``.  What
NIR cannot say goes into the graph's metadata (:data:`METADATA_DOC`).

Import reads such a graph from any tool (snnTorch ``export_to_nir``, Norse ``to_nir``) and
maps it onto the integer model by the rules in :func:`import_graph`.  NIR neurons reset to
``v_reset``; the integer model resets by subtraction, which the import states in a note
unless the graph's metadata says ``reset = subtract``.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass

import numpy as np

from golden.config import (
    ENCODING,
    MAX_LEAK_SHIFT,
    MAX_NEURONS,
    N_INPUTS,
    N_OUTPUTS,
    WEIGHT_MAX,
    SNNConfig,
)
from golden.errors import UserError
from golden.weights import Weights

DT = 1e-4
"""Seconds per time step written by the export (snnTorch's importer assumes this ``dt``)."""
DEFAULT_TIMESTEPS = 16
"""T of an imported network when neither ``--timesteps`` nor the graph's metadata gives one."""
METADATA_DOC = {
    "format": "snn-ecp5 integer network; the fields below say what NIR nodes cannot",
    "reset": "subtract: after a spike v -= v_threshold (NIR's v_reset is not used)",
    "spike": "spike iff v > v_threshold (strict), checked after leak and integration",
    "leak": "v -= v >> k (arithmetic shift) before integration; LIF tau = 2**k * dt, "
            "r = 2**k, v_leak = 0; IF (r = 1) when k = 0",
    "encoding": "sigma-delta: pixel x in 0..255 spikes at step t iff "
                "((t+1)*x + 128) >> 8 != (t*x + 128) >> 8; no other input scaling",
    "weight_scale": "integer weight = NIR weight * weight_scale (sign-magnitude, -127..127)",
    "classification": "most output spikes; ties: larger final output membrane, then lower "
                      "class index",
}
"""The graph metadata keys the export writes besides the numbers, with their meaning."""
NEURON_TYPES = {"LIF": "leaky", "IF": "non-leaky"}
WEIGHT_TYPES = ("Linear", "Affine")


def nir_module():
    """The ``nir`` package (imported on first use; a :class:`UserError` if it is missing)."""
    try:
        module = importlib.import_module("nir")
    except ImportError:
        raise UserError("the 'nir' package is not installed (pip install nir)") from None
    if not hasattr(module, "NIRGraph"):
        raise UserError("'import nir' found this project's module instead of the nir package: "
                        "run it as 'python -m golden.nir'")
    return module


def export_graph(weights: Weights, *, block_size: int = SNNConfig().block_size):
    """The NIR graph (``nir.NIRGraph``) of ``weights`` in integer units."""
    nir = nir_module()
    n = weights.n_hidden
    nodes = {
        "input": nir.Input(input_type={"input": np.array([N_INPUTS])}),
        "fc1": nir.Linear(weight=weights.w_hidden.T.astype(np.float32)),
        "lif1": _neuron(nir, n, weights.theta_hidden, weights.leak_hidden),
        "fc2": nir.Linear(weight=weights.w_out.T.astype(np.float32)),
        "lif2": _neuron(nir, N_OUTPUTS, weights.theta_out, weights.leak_out),
        "output": nir.Output(output_type={"output": np.array([N_OUTPUTS])}),
    }
    edges = [("input", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"),
             ("lif2", "output")]
    metadata = {**METADATA_DOC, "reset": "subtract", "encoding": ENCODING,
                "encoding_rule": METADATA_DOC["encoding"], "reset_rule": METADATA_DOC["reset"],
                "timesteps": int(weights.timesteps), "dt": DT, "weight_scale": 1.0,
                "leak_hidden": int(weights.leak_hidden), "leak_out": int(weights.leak_out),
                "block_size": int(block_size), "weight_bits": 8, "quantizer": "truncate"}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)


def _neuron(nir, n: int, theta: int, k: int):
    threshold = np.full(n, float(theta))
    if k == 0:
        return nir.IF(r=np.ones(n), v_threshold=threshold, v_reset=np.zeros(n))
    return nir.LIF(tau=np.full(n, 2.0**k * DT), r=np.full(n, 2.0**k), v_leak=np.zeros(n),
                   v_threshold=threshold, v_reset=np.zeros(n))


@dataclass(frozen=True)
class LayerConversion:
    """How one NIR layer (weights + neurons) became integers, and what that cost."""

    weight_node: str
    neuron_node: str
    scale: float
    """Integer weight = NIR weight * ``scale`` (rounded to the nearest integer)."""
    theta: int
    leak: int
    weight_rms_error: float
    """RMS of (integer / scale - NIR weight), relative to the RMS of the NIR weights."""
    weight_max_error: float
    """Largest |integer - NIR weight * scale| (integer units, at most 0.5)."""
    theta_error: float
    """theta / (the NIR threshold in integer units) - 1."""
    decay: float
    """The NIR neuron's per-step decay factor (1 - dt / tau; 1 for IF)."""
    decay_error: float
    """(1 - 2**-k, or 1 when k = 0) minus ``decay``."""


@dataclass(frozen=True)
class Conversion:
    """The integer network imported from a NIR graph, with the per-layer figures."""

    weights: Weights
    layers: tuple[LayerConversion, LayerConversion]
    notes: tuple[str, ...]


def _metadata(graph) -> dict:
    meta = getattr(graph, "metadata", None) or {}
    return {str(k): (v.decode() if isinstance(v, bytes) else v) for k, v in meta.items()}


def _chain(nir, graph) -> list[tuple[str, object]]:
    """The nodes from the Input to the Output, in order; a :class:`UserError` for anything
    that is not a single feed-forward chain."""
    nodes = graph.nodes
    for name, node in nodes.items():
        if isinstance(node, nir.NIRGraph):
            raise UserError(f"node '{name}' is a subgraph (a recurrent layer such as snnTorch's "
                            "RLeaky); only feed-forward [784, N, 10] networks can be imported")
    inputs = [name for name, node in nodes.items() if isinstance(node, nir.Input)]
    if len(inputs) != 1:
        raise UserError(f"the graph has {len(inputs)} Input nodes, expected 1")
    successors: dict[str, list[str]] = {name: [] for name in nodes}
    for source, target in graph.edges:
        if source not in nodes or target not in nodes:
            missing = source if source not in nodes else target
            raise UserError(f"an edge names node '{missing}', which the graph does not have")
        successors[source].append(target)
    _refuse_cycles(successors, inputs[0])
    chain, seen, name = [], set(), inputs[0]
    while True:
        chain.append((name, nodes[name]))
        seen.add(name)
        nexts = successors[name]
        if isinstance(nodes[name], nir.Output) and not nexts:
            break
        if len(nexts) != 1:
            what = "no outgoing edge" if not nexts else f"{len(nexts)} outgoing edges"
            raise UserError(f"node '{name}' has {what}; only a single chain Input -> ... -> "
                            "Output can be imported")
        name = nexts[0]
    unused = sorted(set(nodes) - seen)
    if unused:
        raise UserError(f"node '{unused[0]}' is not on the chain from the Input to the Output")
    return chain


def _refuse_cycles(successors: dict[str, list[str]], start: str) -> None:
    """A :class:`UserError` naming the first recurrent edge reachable from ``start``."""
    state: dict[str, str] = {}  # "open" while on the current path, "done" after
    stack = [(start, iter(successors[start]))]
    state[start] = "open"
    while stack:
        name, targets = stack[-1]
        target = next(targets, None)
        if target is None:
            state[name] = "done"
            stack.pop()
        elif state.get(target) == "open":
            raise UserError(f"the edge from '{name}' to '{target}' is recurrent; only "
                            "feed-forward networks can be imported")
        elif target not in state:
            state[target] = "open"
            stack.append((target, iter(successors[target])))


def _layers(nir, chain) -> tuple[list[tuple[str, object]], int]:
    """The four computing nodes (weights, neurons, weights, neurons) and the input size."""
    name, node = chain[0]
    input_size = int(np.prod(np.asarray(node.input_type["input"]).ravel()))
    body = [(n, x) for n, x in chain[1:-1] if not isinstance(x, nir.Flatten)]
    for (name, node), kinds in zip(body, (WEIGHT_TYPES, tuple(NEURON_TYPES)) * 2, strict=False):
        kind = type(node).__name__
        if kind in kinds:
            continue
        if kind == "CubaLIF":
            raise UserError(f"node '{name}' is a CubaLIF neuron (with a synaptic current); the "
                            "integer model has LIF or IF neurons only")
        want = " or ".join(kinds)
        raise UserError(f"node '{name}' is a {kind}; expected a {want} node here "
                        "(Input -> Linear/Affine -> LIF/IF -> Linear/Affine -> LIF/IF -> Output)")
    if len(body) != 4:
        raise UserError(f"the graph has {len(body)} nodes between Input and Output, expected 4 "
                        "(Linear/Affine -> LIF/IF -> Linear/Affine -> LIF/IF)")
    return body, input_size


def _uniform(name: str, node, field: str, n: int) -> float:
    values = np.asarray(getattr(node, field), dtype=np.float64).ravel()
    if values.size not in (1, n):
        raise UserError(f"node '{name}' has {values.size} values of {field}, expected {n}")
    if not np.all(np.isfinite(values) | (field == "tau")):
        raise UserError(f"node '{name}' has a non-finite {field}")
    if not np.allclose(values, values[0], rtol=1e-6, atol=0):
        raise UserError(f"node '{name}' has different {field} values per neuron; the integer "
                        "model has one per layer")
    return float(values[0])


def _dynamics(name: str, node, n: int, dt: float | None) -> tuple[float, float, int]:
    """(input gain per step, decay per step, leak shift k) of a LIF or IF node."""
    r = _uniform(name, node, "r", n)
    if not r > 0:
        raise UserError(f"node '{name}' has r = {r:g}; expected r > 0")
    if type(node).__name__ == "IF":
        return r, 1.0, 0
    tau = _uniform(name, node, "tau", n)
    if _uniform(name, node, "v_leak", n) != 0:
        raise UserError(f"node '{name}' has a non-zero v_leak; the integer model leaks "
                        "towards 0")
    if not tau > 0:
        raise UserError(f"node '{name}' has tau = {tau:g}; expected tau > 0")
    if math.isinf(tau):
        return 1.0, 1.0, 0
    if dt is None:
        dt = tau / r  # snnTorch's convention: r = tau / dt, so the input gain is 1
    ratio = tau / dt
    if not ratio >= 1:
        raise UserError(f"node '{name}' has tau / dt = {ratio:g} < 1, which decays faster "
                        "than one step; check --dt")
    k = min(max(round(math.log2(ratio)), 1), MAX_LEAK_SHIFT)
    return r * dt / tau, 1 - dt / tau, k


def _weights(name: str, node, shape: tuple[int, int], scale: float | None):
    matrix = np.asarray(node.weight, dtype=np.float64)
    if matrix.shape != shape:
        want = f"[N, {N_INPUTS}]" if shape[1] == N_INPUTS else str(list(shape))
        raise UserError(f"node '{name}' has weights of shape {list(matrix.shape)}, expected "
                        f"{want} for a [784, N, 10] network")
    if not np.all(np.isfinite(matrix)):
        raise UserError(f"node '{name}' has non-finite weights")
    largest = float(np.abs(matrix).max())
    if largest == 0:
        raise UserError(f"node '{name}' has only zero weights")
    scale = scale or WEIGHT_MAX / largest
    integers = np.rint(matrix * scale)
    if np.abs(integers).max() > WEIGHT_MAX:
        raise UserError(f"node '{name}' has weights beyond +-127 at weight_scale {scale:g}")
    bias = getattr(node, "bias", None)
    bias = np.zeros(0) if bias is None else np.abs(np.asarray(bias, np.float64))
    if not np.all(np.rint(bias * scale) == 0):  # also refuses NaN and infinite entries
        raise UserError(f"node '{name}' has a non-zero bias (largest |b| = "
                        f"{float(bias.max()):.3g}); the integer model has no bias: "
                        "train without one (a bias below half a weight step is dropped)")
    rms = float(np.sqrt(np.mean((integers / scale - matrix) ** 2) / np.mean(matrix**2)))
    max_error = float(np.abs(integers - matrix * scale).max())
    return integers.astype(np.int8), scale, rms, max_error


def import_graph(graph, *, timesteps: int | None = None, dt: float | None = None) -> Conversion:
    """Map a NIR graph of a ``[784, N, 10]`` network onto the integer model.

    Rules, per layer: the weights are scaled by ``weight_scale`` from the graph's metadata
    (our export: 1) or else by ``127 / max|W|`` and rounded to the nearest integer; a bias
    is dropped when every entry rounds to 0 at that scale and refused otherwise.  One NIR
    step is ``v = (1 - dt/tau) v + (r dt / tau) W x`` (IF: ``v = v + r W x``), so theta is
    ``v_threshold / (r dt / tau) * scale`` rounded (at least 1) and the leak is the shift
    ``k = round(log2(tau / dt))`` (1..15; IF and tau = inf give k = 0).  ``dt`` comes from
    the argument, else the metadata, else ``tau / r`` (snnTorch's convention, gain 1).
    T is ``timesteps``, else the metadata's, else 16.
    """
    nir = nir_module()
    meta = _metadata(graph)
    body, input_size = _layers(nir, _chain(nir, graph))
    if input_size != N_INPUTS:
        raise UserError(f"the Input node has {input_size} values, expected {N_INPUTS}")
    dt = dt if dt is not None else _number(meta, "dt")
    scale = _number(meta, "weight_scale")
    n_hidden = np.shape(body[0][1].weight)[0] if np.ndim(body[0][1].weight) == 2 else 0
    if not 1 <= n_hidden <= MAX_NEURONS:
        raise UserError(f"node '{body[0][0]}' must have a [N, 784] weight matrix with N in "
                        f"1..{MAX_NEURONS}")
    shapes = ((n_hidden, N_INPUTS), (N_OUTPUTS, n_hidden))
    layers, matrices = [], []
    for (w_name, w_node), (n_name, n_node), shape in zip(body[0::2], body[1::2], shapes,
                                                         strict=True):
        matrix, layer_scale, rms, max_error = _weights(w_name, w_node, shape, scale)
        gain, decay, k = _dynamics(n_name, n_node, shape[0], dt)
        threshold = _uniform(n_name, n_node, "v_threshold", shape[0])
        exact_theta = threshold / gain * layer_scale
        if not (threshold > 0 and math.isfinite(exact_theta)):
            raise UserError(f"node '{n_name}' has v_threshold = {threshold:g}; the integer "
                            "model needs a positive threshold")
        theta = max(1, round(exact_theta))
        kept = 1 - 2.0**-k if k else 1.0
        layers.append(LayerConversion(w_name, n_name, layer_scale, theta, k, rms, max_error,
                                      theta / exact_theta - 1, decay, kept - decay))
        matrices.append(matrix.T.copy())
    steps = timesteps or _number(meta, "timesteps") or DEFAULT_TIMESTEPS
    if steps != int(steps):
        raise UserError(f"the graph's metadata 'timesteps' is {steps:g}, not an integer")
    notes = []
    if meta.get("reset") != "subtract":
        notes.append("NIR neurons reset to v_reset; the integer model resets by subtraction "
                     "(v -= theta after a spike)")
    if meta.get("encoding", ENCODING) != ENCODING:
        notes.append(f"the graph was made for {meta['encoding']!r} input; the integer model "
                     "encodes pixels sigma-delta")
    weights = Weights(matrices[0], matrices[1], theta_hidden=layers[0].theta,
                      theta_out=layers[1].theta, leak_hidden=layers[0].leak,
                      leak_out=layers[1].leak, timesteps=int(steps))
    try:
        weights.config()
    except ValueError as err:
        raise UserError(f"the imported network is out of range: {err}") from None
    return Conversion(weights, (layers[0], layers[1]), tuple(notes))


def _number(meta: dict, key: str) -> float | None:
    if key not in meta:
        return None
    try:
        value = float(meta[key])
    except (TypeError, ValueError):
        raise UserError(f"the graph's metadata '{key}' is {meta[key]!r}, not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise UserError(f"the graph's metadata '{key}' is {value:g}, expected a positive number")
    return value
