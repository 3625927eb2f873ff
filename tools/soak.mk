# `make soak`: a bounded local soak of the real workflow with random faults
# (tools/soak.py). Not part of `make test`: about a minute on 2 cores.
# Included by the main Makefile (-include), which defines BIN and venv.
SOAK_UPLOADS ?= 500
SOAK_SEED ?= 20261122
SOAK_FAULT_RATE ?= 0.1
# Hard stop well past the script's own deadline, should anything hang.
SOAK_TIMEOUT ?= 900

.PHONY: soak
soak: venv
	timeout --kill-after=30 $(SOAK_TIMEOUT) $(BIN)/python tools/soak.py \
		--uploads $(SOAK_UPLOADS) --seed $(SOAK_SEED) --fault-rate $(SOAK_FAULT_RATE)
