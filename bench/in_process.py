"""Run several benchmarks one after another in this one Python process.

``make bench-quick`` runs every benchmark after start-up, list and cache
through this: six of them import TensorFlow themselves, and here it starts
once instead of six times (5-7 s each here); the others time ``ml``
subprocesses, which this process does not slow. Each benchmark still measures
its own baseline after its own warm-up, as when it runs alone.

Usage: python bench/in_process.py [--quick] bench/bench_a.py bench/bench_b.py ...

Prints ``=== <path>`` and ``=== <path>: N s`` around each, as ``bench/run.sh``
does, and exits 1 when any failed; when ``BENCH_FAILED`` names a file, each
failure is appended to it as one line ``<path> (<why>)``.
"""
import os
import runpy
import sys
import time
import traceback


def run_one(path, args):
    """Run the benchmark script at ``path`` as ``__main__``; returns None or why it failed."""
    fresh_keras()
    sys.argv = [path, *args]
    try:
        runpy.run_path(path, run_name="__main__")
    except SystemExit as done:
        if done.code not in (None, 0):
            if not isinstance(done.code, int):
                print(done.code, file=sys.stderr)
            return f"exit {done.code if isinstance(done.code, int) else 1}"
    except Exception as err:  # noqa: BLE001 - one benchmark's failure must not stop the others
        traceback.print_exc()
        return f"{type(err).__name__}"
    return None


def fresh_keras():
    """Drop the models and traced functions earlier benchmarks left (when Keras is loaded).

    Without this, ``bench_epoch`` run after the others timed a 1-epoch fit at
    1.28 s and a 4-epoch fit at 1.25 s (each fit's tracing was slower and
    noisier than in a fresh process); each benchmark should start as it would alone.
    """
    if "keras" in sys.modules:
        import gc
        sys.modules["keras"].backend.clear_session()
        gc.collect()


def main(argv):
    args = [a for a in argv if a.startswith("--")]
    failed = []
    for path in (a for a in argv if not a.startswith("--")):
        print(f"\n=== {path}", flush=True)
        start = time.perf_counter()
        why = run_one(path, args)
        print(f"=== {path}: {time.perf_counter() - start:.0f} s", flush=True)
        if why:
            failed.append(f"{path} ({why})")
    record = os.environ.get("BENCH_FAILED")
    if record and failed:
        with open(record, "a", encoding="utf-8") as handle:
            handle.write("".join(f"{line}\n" for line in failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
