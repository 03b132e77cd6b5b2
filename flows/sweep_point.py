"""One point of a design sweep: its inputs, its check before any work, and its run.

A point is one combination of N, lanes, block size, bits, place-and-route seed and board,
run to a stage: ``synth`` (Yosys only: area from the netlist), ``pnr`` (+ nextpnr: Fmax and
placed area) or ``full`` (what ``flows/build.py`` does: + simulations, power and energy).
Every stage goes through the stage cache (:mod:`flows.cache`) of the project the worker runs
in, so a point shares synthesis, place-and-route and simulations with builds and other
sweeps of identical inputs.
:func:`run_point` is the task a Dask worker runs; it takes and returns plain dicts, writes
only into the point's own directory and never raises for a failure of the point itself.
"""

from __future__ import annotations

import hashlib
import json
import time
import traceback
from pathlib import Path

from flows import build
from flows.devices import board_device
from flows.report import write_reports
from flows.synth import synthesize
from golden.errors import UserError
from golden.weights import write_atomic

STAGES = ("synth", "pnr", "full")
RECORD = "point.json"
"""The file in a point's directory that holds its inputs and its result or error."""
RANDOM_WEIGHTS_SEED = 1
"""Seed of ``--weights random``: the same network for every placement seed of a sweep."""


def point_name(inputs: dict) -> str:
    """The directory name of a point, e.g. ``n48-l128-b16-8bit-s1-ulx3s-85f``."""
    bits = f"{inputs['bits']}bit" if str(inputs["bits"]).isdigit() else inputs["bits"]
    return (f"n{inputs['neurons']}-l{inputs['lanes']}-b{inputs['block_size']}-{bits}"
            f"-s{inputs['seed']}-{inputs['board']}")


def inputs_key(inputs: dict) -> str:
    """A digest of everything that decides a point's result (the resume check)."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]


def build_args(inputs: dict):
    """The ``flows/build.py`` options of a point (the random-weights seed is ``weights_seed``,
    default :data:`RANDOM_WEIGHTS_SEED`; the placement seed is set by :func:`run_point`)."""
    argv = ["--neurons", str(inputs["neurons"]), "--bits", str(inputs["bits"]),
            "--board", inputs["board"], "--lanes", str(inputs["lanes"]),
            "--block-size", str(inputs["block_size"]),
            *(["--weights", inputs["weights"]] if inputs["weights"] else []),
            "--seed", str(inputs.get("weights_seed", RANDOM_WEIGHTS_SEED)),
            "--freq", f"{inputs['freq']:g}",
            "--images", str(inputs["images"]), "--cycles", inputs["cycles"],
            "--router", inputs.get("router", "router1"), "--quiet",
            *(["--timing-weight", str(inputs["timing_weight"])]
              if inputs.get("timing_weight") is not None else [])]
    return build._parser().parse_args(argv)


def check_point(inputs: dict) -> tuple:
    """Everything ``flows/build.py`` checks before long work (weights, configuration, block-RAM
    fit); a :class:`UserError` gives the reason the point is skipped."""
    args = build_args(inputs)
    return args, build.plan_one(args, inputs["neurons"], inputs["weights"])


def run_point(inputs: dict, directory: str) -> dict:
    """Run one point into ``directory`` (reusing a finished run of identical inputs) and
    return its record: ``status`` "done" with ``result``, or "failed" with ``error``."""
    folder = Path(directory)
    record_path = folder / RECORD
    key = inputs_key(inputs)
    try:
        previous = json.loads(record_path.read_text())
        if previous.get("key") == key and previous.get("status") == "done":
            return {**previous, "reused": True}
    except (OSError, ValueError):
        pass
    started = time.monotonic()
    record = {"name": folder.name, "key": key, "inputs": inputs}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        result = _run(inputs, folder)
        record.update(status="done", stages=result.pop("stages"), result=result)
    except Exception as err:  # a failed point is recorded; the sweep goes on
        message = str(err) if isinstance(err, UserError) else \
            f"{type(err).__name__}: {err}"
        record.update(status="failed", error=message,
                      detail=None if isinstance(err, UserError) else traceback.format_exc())
    record["seconds"] = round(time.monotonic() - started, 2)
    try:
        write_atomic(record_path, json.dumps(record, indent=1))
    except UserError:
        pass  # the record still reaches sweep.json through the return value
    return {**record, "reused": False}


def _run(inputs: dict, folder: Path) -> dict:
    args, plan = check_point(inputs)
    args.seed = inputs["seed"]
    weights, _, config, _ = plan
    device = board_device(inputs["board"])
    stage = inputs["stage"]
    if stage == "full":
        return _full(inputs, args, plan, folder)
    cache = build.stage_cache(args)  # the stage cache of the project the worker runs
    synth = synthesize(config, weights.w_hidden, weights.w_out, device, folder / "work",
                       freq_mhz=inputs["freq"], seed=inputs["seed"], abc9=inputs["abc9"],
                       progress=False, cache=cache, stop_after_yosys=stage == "synth",
                       router=inputs.get("router", "router1"),
                       timing_weight=inputs.get("timing_weight"))
    if stage == "synth":
        cells = synth.cells
        return {"cells": cells, "memory_groups": synth.memory_groups, "lut4": cells["LUT4"],
                "ff": cells["TRELLIS_FF"], "dp16kd": cells["DP16KD"],
                "stages": synth.stages}
    if stage == "pnr":
        used = {k: v["used"] for k, v in synth.utilization.items()}
        return {"cells": synth.cells, "memory_groups": synth.memory_groups,
                "utilization": synth.utilization, "fmax_mhz": synth.fmax_mhz,
                "lut4": used.get("LUT4", synth.cells["LUT4"]), "ff": used.get("FF"),
                "dp16kd": used.get("DP16KD", synth.cells["DP16KD"]), "stages": synth.stages}


def _full(inputs: dict, args, plan: tuple, folder: Path) -> dict:
    from golden.mnist import load_split

    args.no_abc9 = not inputs["abc9"]
    report = build.build_one(args, inputs["neurons"], str(inputs["bits"]), plan,
                             load_split("test"), folder)
    write_reports(folder, report)
    used = {k: v["used"] for k, v in report["utilization"].items()}
    return {"cells": report["cells"], "utilization": report["utilization"],
            "fmax_mhz": report["fmax_mhz"], "lut4": used.get("LUT4"), "ff": used.get("FF"),
            "dp16kd": used.get("DP16KD"), "cycles_per_image": report["cycles_per_image"],
            "latency_us": report["latency_us"],
            "energy_per_image_uj": report["energy_per_image_uj"],
            "energy_per_image_uj_low": report["energy_per_image_uj_low"],
            "energy_per_image_uj_high": report["energy_per_image_uj_high"],
            "power_mw": report["power_mw"]["total"], "stages": report["stages"]}
