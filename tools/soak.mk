# `make soak`: a bounded local soak of the real workflow with random faults
# (tools/soak.py), in flat memory. Not part of `make test`: 5,000 uploads take
# about 15 minutes on 2 cores (SOAK_UPLOADS=500: about 1.5).
# Included by the main Makefile (-include), which defines BIN and venv.
SOAK_UPLOADS ?= 5000
SOAK_SEED ?= 20261122
SOAK_FAULT_RATE ?= 0.1
# Hard stop well past the script's own deadline, should anything hang.
SOAK_TIMEOUT ?= 6000

.PHONY: soak
soak: venv
	timeout --kill-after=30 $(SOAK_TIMEOUT) $(BIN)/python tools/soak.py \
		--uploads $(SOAK_UPLOADS) --seed $(SOAK_SEED) --fault-rate $(SOAK_FAULT_RATE)
