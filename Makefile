# intar: the usual targets. `make test` is what CI runs (.ci/run).
VENV    ?= .venv
PY      := $(VENV)/bin/python
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
TORCH   := $(VENV)/.installed-torch

.PHONY: install install-torch example test test-slow lit pytest lint format regen regen-check bench bench-sim bench-qor bench-gpt2 clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $$(tools/find-python.sh) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The PyTorch front end's extra (torch 2.13.0 and transformers; about 3 GB from PyPI on
# Python 3.13): the tests import a random GPT-2 with it.
install-torch: $(TORCH)

$(TORCH): $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,torch]'
	touch $(TORCH)

# The default example: a small self-attention block in InTAR mode, compiled to SystemVerilog
# and simulated in Verilator against the golden model (prints cycles, predicted cycles, PASS).
example: install
	$(BIN)/intar run examples/small/self_attention.mlir --device tiny --mode intar -o out/self_attention

# Whole-design synthesis of the small MLP (InTAR mode, tiny device) with yosys synth_xilinx:
# resources and LUT levels checked against the device, out/mlp/synth.json (about a minute).
.PHONY: synth
synth: install
	$(BIN)/intar compile examples/small/mlp.mlir --device tiny --mode intar -o out/mlp
	$(BIN)/intar synth out/mlp

test: install install-torch lint
	$(PY) examples/generate.py --check
	$(BIN)/lit -sv test
	INTAR_REQUIRE_TORCH=1 $(BIN)/pytest -q

# The tests marked slow (long simulations, whole-design synthesis), kept out of `make test`.
test-slow: install install-torch
	INTAR_REQUIRE_TORCH=1 $(BIN)/pytest -q -m slow

lit: install
	$(BIN)/lit -sv test

pytest: install install-torch
	INTAR_REQUIRE_TORCH=1 $(BIN)/pytest -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Regenerate the Python op bindings and dialect docs from dialect/*.td (needs mlir-tblgen:
# apt-get install mlir-22-tools libmlir-22-dev).
regen: install
	$(PY) tools/regen.py
	$(PY) examples/generate.py

regen-check: install
	$(PY) tools/regen.py --check

bench: install
	$(BIN)/intar bench schedule --readme README.md

# The small kernels and 40 random graphs compiled for the tiny device in every mode and
# simulated bit-exact in Verilator (bench/results/sim.{md,json}, the README's table); about
# 20 s per design, identical runs reused.
bench-sim: install
	$(BIN)/intar bench sim --random 40 --readme README.md

# The five kernels at the paper's shapes in every mode: compiled, simulated bit-exact and
# synthesised (bench/results/qor.{md,json,png}, README's results block). Cached under
# out/bench-qor; the first run takes hours on 2 cores.
bench-qor: install
	$(BIN)/intar bench qor --readme README.md

# One GPT-2 medium layer at lengths 64-1024 on the U280 at the full budget, the length-64 layer
# simulated bit-exact and given to yosys (bench/results/gpt2.{md,json,png}), against Allo and DFX.
bench-gpt2: install
	$(BIN)/intar bench gpt2 --synth-lengths 64 --readme README.md

clean:
	rm -rf build out .pytest_cache .ruff_cache
