# Two commands do everything on a fresh clone (both bootstrap .venv first):
#   make build   the main job (N=128 on the ULX3S 85F: area, Fmax, latency, power, energy)
#   make test    lint + the test suite (what CI runs via .ci/run)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
WEIGHTS ?= weights/mnist-784-128-10.npz
BOARD ?= ulx3s-85f
export PYTHONWARNINGS := error
.DEFAULT_GOAL := help

.PHONY: help venv build evaluate pareto test lint synth-test sim sim-full mutants formal train-128 train-48 train-128-s80 \
	train-128-s90 bitstream demo demo-loopback demo-sim clean netlist-sim

help:  ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 14

venv: $(STAMP)  ## create .venv with every dependency (pip only; torch pinned to the CPU build)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	PYTHONWARNINGS= $(PY) -m pip install --quiet --upgrade pip
	PYTHONWARNINGS= $(PY) -m pip install --quiet torch==2.13.0
	PYTHONWARNINGS= $(PY) -m pip install --quiet -e .[interop]
	touch $@

build: $(STAMP)  ## the main job: N=128 on the ULX3S 85F, dynamic mode: area, Fmax, latency, power, energy (build/flow)
	$(PY) flows/build.py --neurons 128 --bits dynamic --router router2 --out build/flow

evaluate: $(STAMP)  ## integer-reference accuracy of $(WEIGHTS) on the 10k test set, bits 8..2 and dynamic
	$(PY) golden/evaluate.py --weights $(WEIGHTS) --bits all

pareto: $(STAMP)  ## accuracy vs energy of every mode on the 10k test set (build/pareto, ~8 min)
	$(PY) flows/pareto.py --out build/pareto

lint: $(STAMP)  ## ruff (line length 100)
	$(VENV)/bin/ruff check golden hdl flows boards cocotb_tests tests

test: $(STAMP) lint  ## lint + unit tests (pytest, warnings are errors)
	$(PY) -m pytest -q

synth-test: $(STAMP)  ## synthesize N=48 and check flows/baselines (4-10 min; also part of make test)
	$(PY) -m pytest -q tests/test_flows_baseline.py

sim: $(STAMP)  ## RTL == reference co-simulation regression (cocotb + Verilator; part of make test)
	$(PY) -m pytest cocotb_tests -q

netlist-sim: $(STAMP)  ## ECP5 netlists == reference, 20 images each: random N=37 at 3 bits routed, N=48 synthesized at 8 bits and dynamic (~10-15 min per netlist)
	$(PY) flows/netlist_sim.py --neurons 37 --random-seed 7 --bits 3 --images 20 --stage routed
	$(PY) flows/netlist_sim.py --neurons 48 --weights weights/mnist-784-48-10.npz --bits 8 \
		--images 20
	$(PY) flows/netlist_sim.py --neurons 48 --weights weights/mnist-784-48-10.npz \
		--bits dynamic --images 20

mutants: $(STAMP)  ## break one rule of the reference model at a time; every mutant must fail the tests (~2 min)
	$(PY) -m tests.mutants

formal: $(STAMP)  ## SymbiYosys: UART, frame receiver, bus rule, membrane bounds by induction (build/formal)
	$(PY) -m tests.formal

sim-full: $(STAMP)  ## all 10,000 test images through the RTL at N=128, back to back: 8 bits, 4 bits, dynamic; s80 dynamic (about 14 min on 2 cores)
	$(PY) -m cocotb_tests.sim_full

RECIPE := --threads 1 --train-bits 8,mid --late-bits 2 --late-weights 0.2 --late-start 0.65 \
	--late-ramp 0.15 --select floor --temperature 4 --augment 0.6 --epochs 70

train-128: $(STAMP)  ## retrain the committed [784,128,10] weights (~13 min, one thread)
	$(PY) golden/train.py --neurons 128 $(RECIPE) --out weights/mnist-784-128-10.npz
	$(PY) golden/evaluate.py --weights weights/mnist-784-128-10.npz --bits all --write-meta

train-128-s80: $(STAMP)  ## retrain [784,128,10] with 80 % of hidden blocks pruned (~10-25 min, distils the dense file)
	$(PY) golden/train.py --neurons 128 $(RECIPE) --sparsity 0.8 --theta-hidden 512 --theta-out 512 \
		--teacher weights/mnist-784-128-10.npz --out weights/mnist-784-128-10-s80.npz
	$(PY) golden/evaluate.py --weights weights/mnist-784-128-10-s80.npz --bits all --write-meta

train-128-s90: $(STAMP)  ## retrain [784,128,10] with 90 % of hidden blocks pruned (~10-25 min, distils the dense file)
	$(PY) golden/train.py --neurons 128 $(RECIPE) --sparsity 0.9 --theta-hidden 512 --theta-out 512 \
		--teacher weights/mnist-784-128-10.npz --out weights/mnist-784-128-10-s90.npz
	$(PY) golden/evaluate.py --weights weights/mnist-784-128-10-s90.npz --bits all --write-meta

train-48: $(STAMP)  ## retrain the committed [784,48,10] weights
	$(PY) golden/train.py --neurons 48 $(RECIPE) --floor-4bit 0.008 --floor-2bit 0.03 \
		--out weights/mnist-784-48-10.npz
	$(PY) golden/evaluate.py --weights weights/mnist-784-48-10.npz --bits all --write-meta

bitstream: $(STAMP)  ## demo bitstream for BOARD (cached in build/boards/; ~15 min the first time)
	$(PY) -m boards.bitstream --board $(BOARD)

demo: $(STAMP)  ## program BOARD and stream 1000 MNIST test images (board on USB)
	$(PY) boards/demo.py --board $(BOARD) --program --images 1000

demo-loopback: $(STAMP)  ## the demo against the Python device model (no board)
	$(PY) boards/demo.py --loopback --images 200 --show 2

demo-sim: $(STAMP)  ## the demo against BOARD's gateware in Verilator on a pseudo-terminal (no board)
	$(PY) boards/demo.py --sim --board $(BOARD) --images 200

clean:  ## remove build trees and caches (keeps .venv)
	rm -rf build sim_build .pytest_cache .ruff_cache
