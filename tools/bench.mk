# `make bench`: imgflow's JPEG compression against its baselines (see benchmarks/bench_jpeg.py).
# BENCH_DIR: the folder(s) of photographs; BENCH_ARGS: extra options (--exact, --per-file, --jobs N).
BENCH_DIR ?= ../shared/corpus/photos
BENCH_ARGS ?=

.PHONY: bench

bench: venv
	$(BIN)/python benchmarks/bench_jpeg.py $(BENCH_DIR) $(BENCH_ARGS)
