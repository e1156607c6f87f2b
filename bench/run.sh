#!/usr/bin/env bash
# `make bench`: every benchmark, each printing its figures as ratios against a
# baseline measured in the same run (machines are noisy; absolute numbers are
# printed too, for the record), then all of them as one table (bench/table.py).
# `make bench-quick` (bench/run.sh --quick): the same rows at smaller sizes.
# A failing benchmark does not stop the others: the table is printed, then the
# failures, and the exit status is 1. A missed target is a NO in the table
# (and a failure of the benchmarks that exit 1 on it, such as bench_startup).
# Run by hand (CI unset or empty), the table is also written, atomically, to
# bench/results/latest.md; CI runs leave that file alone.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1-}" in
    "" | --quick) ;;
    *) echo "usage: bench/run.sh [--quick]" >&2; exit 2 ;;
esac
BENCH_ROWS="$(mktemp -t bench-rows.XXXXXX)"
BENCH_SHARED="$(mktemp -d -t bench-shared.XXXXXX)"  # set-up done once (bench/workspace.py)
export BENCH_ROWS BENCH_SHARED
trap 'rm -rf "$BENCH_ROWS" "$BENCH_SHARED"' EXIT
# The benchmarks after these (none of which imports TensorFlow; bench_ui checks
# that ml ui does not either) import TensorFlow themselves or time `ml`
# subprocesses; bench-quick runs them all in one process (bench/in_process.py),
# so TensorFlow starts once, not six times. bench_predict predicts with the
# project bench_retrain leaves (bench/workspace.py).
in_process=(bench/bench_extract_photos.py bench/bench_rest.py bench/bench_top_probe.py bench/bench_class_weights.py
            bench/bench_ray.py bench/bench_epoch.py bench/bench_retrain.py
            bench/bench_predict.py bench/bench_fine_tune.py bench/bench_tta.py
            bench/bench_fine_tune_memory.py bench/bench_recipe.py bench/bench_search.py bench/bench_pixel_path.py
            bench/bench_doctor_labels.py bench/bench_doctor_duplicates.py bench/bench_ood.py bench/bench_trust_speed.py)
failed=()
run() {
    printf '\n=== %s\n' "$1"
    local start=$SECONDS
    python "$@" || failed+=("$1 (exit $?)")
    printf '=== %s: %d s\n' "$1" $((SECONDS - start))
}
for bench in bench/bench_startup.py bench/bench_list.py bench/bench_ui.py bench/bench_cache.py \
             bench/bench_doctor_scale.py; do
    run "$bench" "$@"
done
if [[ "${1-}" == --quick ]]; then
    BENCH_FAILED="$BENCH_SHARED/failed" python bench/in_process.py "$@" "${in_process[@]}" || true
    if [[ -f "$BENCH_SHARED/failed" ]]; then
        mapfile -t -O "${#failed[@]}" failed < "$BENCH_SHARED/failed"
    fi
else
    for bench in "${in_process[@]}"; do run "$bench" "$@"; done
fi
markdown=()
if [[ -z "${CI-}" ]]; then
    markdown=(--markdown bench/results/latest.md --title "make bench${1:+-quick}")
    for failure in ${failed[@]+"${failed[@]}"}; do markdown+=(--failed "$failure"); done
fi
python bench/table.py "$BENCH_ROWS" ${markdown[@]+"${markdown[@]}"}
if ((${#failed[@]})); then
    printf 'failed: %s\n' "${failed[@]}" >&2
    exit 1
fi
