#!/usr/bin/env bash
# `make bench`: every benchmark, each printing its figures as ratios against a
# baseline measured in the same run (machines are noisy; absolute numbers are
# printed too, for the record).
set -euo pipefail
cd "$(dirname "$0")/.."
for bench in bench/bench_startup.py bench/bench_list.py bench/bench_cache.py \
             bench/bench_extract.py bench/bench_rest.py bench/bench_fine_tune.py; do
    printf '\n=== %s\n' "$bench"
    python "$bench"
done
