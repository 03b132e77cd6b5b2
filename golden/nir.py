"""NIR interchange: export a weights file as a NIR graph, import a NIR graph as a weights file.

NIR (the ``nir`` package) is the graph format that snnTorch, Norse, Sinabs, Lava and
SpiNNaker2 read or write.  The mapping rules are in :mod:`golden.nir_graph`.

Examples::

    python -m golden.nir export --weights weights/mnist-784-128-10.npz --out net.nir
    python -m golden.nir import net.nir --out imported.npz --data-dir ../shared/datasets/mnist
    python -m golden.nir import snntorch.nir --out mine.npz --timesteps 16 --json
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from golden import cli
from golden.errors import UserError, run_cli
from golden.nir_graph import DEFAULT_TIMESTEPS, Conversion, export_graph, import_graph, nir_module
from golden.weights import Weights, load_weights, save_weights, write_atomic


def build_parser() -> argparse.ArgumentParser:
    p = cli.ArgumentParser(
        prog="python -m golden.nir",
        description="Convert between snn-weights/1 files and NIR graphs (.nir, HDF5); "
                    "the mapping rules are in docs/nir.md.")
    commands = p.add_subparsers(dest="command", required=True, metavar="{export,import}")
    export = commands.add_parser(
        "export",
        help="write a weights file as a NIR graph in integer units",
        description="Write Input[784] -> Linear -> LIF/IF -> Linear -> LIF/IF -> Output[10] "
                    "with the integer weights and thresholds; reset by subtraction, the "
                    "sigma-delta encoding, T and the leak rule go into the graph metadata.")
    export.add_argument("--weights", type=cli.input_file, required=True,
                        help="snn-weights/1 file to export")
    export.add_argument("--out", type=cli.output_file, required=True, help="NIR file to write")
    export.add_argument("--block-size", type=cli.neurons, default=16,
                        help="metadata block size B recorded in the graph (default: 16)")
    imp = commands.add_parser(
        "import",
        help="map a NIR graph of a [784, N, 10] network onto a weights file",
        description="Read a NIR graph Input -> Linear/Affine -> LIF/IF -> Linear/Affine -> "
                    "LIF/IF -> Output (from snnTorch, Norse or this tool), scale each layer "
                    "to sign-magnitude integers (-127..127) with its threshold, round the "
                    "leak to the nearest shift, print the conversion error and write a "
                    "weights file.")
    imp.add_argument("graph", type=cli.input_file, help="NIR file to import")
    imp.add_argument("--out", type=cli.output_file, required=True,
                     help="weights file (.npz) to write")
    imp.add_argument("--timesteps", type=cli.steps,
                     help=f"time steps T (default: the graph's metadata, else "
                          f"{DEFAULT_TIMESTEPS})")
    imp.add_argument("--dt", type=cli.positive,
                     help="seconds per time step (default: the graph's metadata 'dt', else "
                          "tau / r, snnTorch's convention)")
    imp.add_argument("--data-dir", help="MNIST directory: also report the integer reference's "
                     "accuracy on the test set (8 bits)")
    imp.add_argument("--limit", type=cli.count,
                     help="with --data-dir: only the first K test images")
    imp.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    return p


def read_graph(path: Path):
    """The ``nir.NIRGraph`` in ``path``, or a :class:`UserError` naming the file."""
    nir = nir_module()
    with open(path, "rb") as f:
        if f.read(8) != b"\x89HDF\r\n\x1a\n":
            raise UserError(f"{path} is not a NIR file (not HDF5)")
    try:
        graph = nir.read(path, type_check=False)  # the chain checks below are ours
    except Exception as err:  # nir and h5py raise many kinds of error on a damaged file
        raise UserError(f"{path} is not a readable NIR graph ({type(err).__name__}: "
                        f"{str(err).splitlines()[0] if str(err) else 'no detail'})") from None
    if not isinstance(graph, nir.NIRGraph):
        raise UserError(f"{path} holds a single {type(graph).__name__} node, not a graph")
    return graph


def export(args) -> int:
    weights = load_weights(args.weights)
    nir = nir_module()
    buffer = io.BytesIO()
    nir.write(buffer, export_graph(weights, block_size=args.block_size))
    write_atomic(args.out, buffer.getvalue())
    print(f"wrote {args.out}: [784, {weights.n_hidden}, 10], T = {weights.timesteps}, "
          f"theta {weights.theta_hidden}/{weights.theta_out}, "
          f"leak k = {weights.leak_hidden}/{weights.leak_out}")
    return 0


def report(conversion: Conversion) -> dict:
    """The conversion figures as JSON-ready numbers."""
    w = conversion.weights
    return {
        "n_hidden": w.n_hidden, "timesteps": w.timesteps,
        "layers": [{"weights": layer.weight_node, "neurons": layer.neuron_node,
                    "scale": layer.scale, "theta": layer.theta, "leak": layer.leak,
                    "weight_rms_error": layer.weight_rms_error,
                    "weight_max_error_lsb": layer.weight_max_error,
                    "theta_error": layer.theta_error, "decay": layer.decay,
                    "decay_error": layer.decay_error}
                   for layer in conversion.layers],
        "notes": list(conversion.notes),
    }


def accuracy(weights: Weights, data_dir: str, limit: int | None) -> dict:
    """The integer reference's accuracy (8 bits) on the test set."""
    from golden.mnist import load_split
    from golden.reference import infer

    test = load_split("test", data_dir).first(limit)
    result = infer(weights.w_hidden, weights.w_out, test.images, weights.config())
    return {"accuracy": float(np.mean(result.pred == test.labels)),
            "images": int(len(test.labels)), "data": test.source,
            "fallback_data": test.fallback}


def import_(args) -> int:
    if args.limit and not args.data_dir:
        raise UserError("--limit needs --data-dir")
    graph = read_graph(args.graph)
    conversion = import_graph(graph, timesteps=args.timesteps, dt=args.dt)
    result = report(conversion)
    digest = hashlib.sha256(Path(args.graph).read_bytes()).hexdigest()
    weights = replace(conversion.weights, meta={"imported_from": {
        "file": Path(args.graph).name, "sha256": digest, **result,
        "command": "python -m golden.nir import"}})
    if args.data_dir:
        result["reference"] = accuracy(weights, args.data_dir, args.limit)
    save_weights(args.out, weights)
    if args.json:
        print(cli.strict_json({"graph": str(args.graph), "out": str(args.out), **result}))
        return 0
    for note in conversion.notes:
        print(f"note: {note}")
    print(f"imported [784, {weights.n_hidden}, 10], T = {weights.timesteps}")
    for layer in conversion.layers:
        print(f"  '{layer.weight_node}' -> '{layer.neuron_node}': scale {layer.scale:.6g}, "
              f"weight error {100 * layer.weight_rms_error:.3f} % RMS (at most "
              f"{layer.weight_max_error:.2f} LSB), theta {layer.theta} "
              f"({100 * layer.theta_error:+.3f} %), leak k = {layer.leak} "
              f"(decay {layer.decay:.6g} -> {layer.decay + layer.decay_error:.6g})")
    if "reference" in result:
        ref = result["reference"]
        print(f"accuracy {ref['accuracy']:.4f} (integer reference, 8 bits) on {ref['images']} "
              f"images of {ref['data']}" + ("  [FALLBACK DATA]" if ref["fallback_data"] else ""))
    print(f"wrote {args.out}")
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return export(args) if args.command == "export" else import_(args)


if __name__ == "__main__":
    sys.exit(run_cli(main))
