#!/usr/bin/env bash
# `make bench`: every benchmark, each printing its figures as ratios against a
# baseline measured in the same run (machines are noisy; absolute numbers are
# printed too, for the record), then all of them as one table (bench/table.py).
# `make bench-quick` (bench/run.sh --quick): the same rows at smaller sizes.
# A failing benchmark (a missed target included) does not stop the others:
# the table is printed, then the failures, and the exit status is 1.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1-}" in
    "" | --quick) ;;
    *) echo "usage: bench/run.sh [--quick]" >&2; exit 2 ;;
esac
BENCH_ROWS="$(mktemp -t bench-rows.XXXXXX)"
export BENCH_ROWS
trap 'rm -f "$BENCH_ROWS"' EXIT
failed=()
for bench in bench/bench_startup.py bench/bench_list.py bench/bench_cache.py \
             bench/bench_extract_photos.py bench/bench_predict.py bench/bench_rest.py \
             bench/bench_fine_tune.py bench/bench_top_probe.py bench/bench_ray.py; do
    printf '\n=== %s\n' "$bench"
    start=$SECONDS
    python "$bench" "$@" || failed+=("$bench (exit $?)")
    printf '=== %s: %d s\n' "$bench" $((SECONDS - start))
done
python bench/table.py "$BENCH_ROWS"
if ((${#failed[@]})); then
    printf 'failed: %s\n' "${failed[@]}" >&2
    exit 1
fi
