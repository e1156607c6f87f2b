"""Benchmark `ml list` over 1,000 and 10,000 synthetic training runs.

Writes realistic runs (per-epoch history included) in a temporary project
through ``Instance.save()``, as ``ml train`` does, then times ``ml list`` as a subprocess (best of K)
next to the bare interpreter start-up ``python -c pass`` measured in the
same run; every figure is printed as a ratio to that baseline, with the load
average. "first listing" times the same runs without ``ml list``'s index (a new
clone, or the first listing after the index was deleted). Target: ``ml list`` over 1,000 runs <= 5x the
baseline. ``--quick``: 1,000 and 1,200 runs, best of 2.

Usage: python bench/bench_list.py [--quick] [--runs 1000,10000] [--repeat K]
"""
import argparse
import multiprocessing
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock


from vergeml.instances.instance import Instance
from vergeml.instances.names import random_name

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rows

TARGET_RATIO = 5.0
STATUSES = ("finished",) * 7 + ("cancelled", "failed", "running")


def synthetic_metadata(name, index, rng):
    """Metadata shaped like a real run's data.yaml (20-epoch history included)."""
    epochs = 20 if rng.random() < 0.8 else rng.randint(1, 19)
    history = [{"epoch": e, "acc": rng.random(), "loss": rng.random(),
                "val_acc": rng.random(), "val_loss": rng.random()} for e in range(1, epochs + 1)]
    start = 1_700_000_000 + index * 600
    iso = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(start))
    return {
        "name": name, "model": "imagenet",
        "backbone": rng.choice(["mobilenet", "resnet50", "inceptionv3", "xception"]),
        "status": rng.choice(STATUSES), "pid": 4_000_000 + index, "host": "bench-host",
        "error": None,
        "hyperparameters": {
            "architecture": "mobilenet", "variant": "auto", "size": 96, "alpha": 0.25,
            "layers": 1, "output_layer": "last", "batch_size": rng.choice([16, 32, 64]),
            "optimizer": "adam", "learning_rate": rng.choice([1e-4, 1e-3, 5e-3]),
            "decay": 0.0, "dropout": rng.choice([0.0, 0.2, 0.5]), "epochs": 20,
            "early_stopping_delta": 0.0, "early_stopping_patience": 0, "weights": "imagenet",
            "labels": [str(d) for d in range(10)]},
        "results": {
            "created_at": float(start), "training_start": iso, "training_end": iso,
            "epochs_done": epochs, "best_epoch": epochs, "acc": rng.random(),
            "loss": rng.random(), "val_acc": rng.random(), "val_loss": rng.random(),
            "test_acc": rng.random(), "test_loss": rng.random(), "auc": rng.random(),
            "num_samples": 1437},
        "history": history,
        "data": {"fingerprint": "%032x" % rng.getrandbits(128), "num_train": 1437,
                 "num_val": 180, "num_test": 180, "labels": [str(d) for d in range(10)]},
        "versions": {"vergeml": "0.2.0", "python": "3.11", "tensorflow": "2.16",
                     "keras": "3.0", "numpy": "1.26"},
    }


def generate(project, count, seed=0):
    """Write ``count`` instance folders under ``project/trainings``.

    Through ``Instance.save()``, as ``ml train`` writes ``data.yaml``.
    One writer process per core, each with its own share of the runs; the
    files are not fsynced: what is timed is reading them, not writing them.
    """
    (project / "trainings").mkdir(parents=True)
    workers = os.cpu_count() or 1
    shares = [(project, range(w, count, workers), seed * 1000 + w)
              for w in range(workers)]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        pool.starmap(_generate, shares)


def _generate(project, indices, seed):
    rng = random.Random(seed)
    root = project / "trainings"
    with mock.patch("os.fsync"):
        for index in indices:
            name = f"{random_name(rng)}-{index}"
            folder = root / name
            folder.mkdir()
            for sub in ("checkpoints", "stats", "plots", "tensorboard"):
                (folder / sub).mkdir()
            metadata = synthetic_metadata(name, index, rng)
            Instance(folder, metadata).save()


def _child_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def child_env():
    """The environment of the timed commands: byte-code caches allowed.

    With PYTHONDONTWRITEBYTECODE set, a module edited since its ``.pyc`` was
    written is compiled again on every start, which is not what users see.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("VERGEML_DEBUG", None)
    return env


def best_of(command, cwd, repeat):
    """Fastest ``(wall, cpu)`` seconds of ``repeat`` runs; None when the command fails.

    CPU time (user + system of the child) is reported too because wall time
    on a shared machine includes waiting for a core. One untimed run first
    warms the byte-code and file-system caches.
    """
    best = None
    env = child_env()
    subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(repeat):
        cpu, start = _child_cpu(), time.perf_counter()
        done = subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
        sample = (time.perf_counter() - start, _child_cpu() - cpu)
        if done.returncode != 0:
            return None
        best = sample if best is None or sample[0] < best[0] else best
    return best


def ml_command():
    script = Path(sys.executable).with_name("ml")
    return [str(script)] if script.exists() else [sys.executable, "-m", "vergeml"]


def keep(project, runs):
    """Leave exactly ``runs`` runs in ``project/trainings``, the rest moved to ``project/spare``.

    One set of runs is generated for the largest size; the smaller sizes are
    the first runs of it (by name), so no size pays for writing its own.
    """
    live, spare = project / "trainings", project / "spare"
    spare.mkdir(exist_ok=True)
    everything = sorted([p for p in [*live.iterdir(), *spare.iterdir()]
                         if not p.name.startswith(".")],  # ml list's own index stays
                        key=lambda p: p.name)
    for index, folder in enumerate(everything):
        target = (live if index < runs else spare) / folder.name
        if folder != target:
            folder.rename(target)


def timings(project, runs, repeat):
    """``{label: (wall, cpu)}`` of the commands over the ``runs`` runs now in ``project``;
    ``first listing`` removes ``ml list``'s index before each run (every ``data.yaml`` read)."""
    ml = ml_command()
    first = ["sh", "-c", 'rm -f trainings/.index.marshal && exec "$@"', "sh", *ml, "list"]
    out = subprocess.run(ml + ["list"], cwd=project, capture_output=True, text=True,
                         check=True, env=child_env()).stdout
    rows = len(out.splitlines()) - 2
    assert rows == runs, f"expected {runs} rows, got {rows}"
    return {"python -c pass": best_of([sys.executable, "-c", "pass"], project, repeat),
            "ml list": best_of(ml + ["list"], project, repeat),
            "ml list --output json": best_of(ml + ["list", "--output", "json"], project, repeat),
            "ml list test_acc -gt 0.5": best_of(ml + ["list", "test_acc", "-gt", "0.5"],
                                                project, repeat),
            "ml list, first listing": best_of(first, project, repeat)}


def measure(sizes, repeat):
    """``{runs: {label: (wall, cpu)}}`` for each size, the baseline included."""
    project = Path(tempfile.mkdtemp(prefix="bench-list-"))
    results = {runs: {} for runs in sizes}
    try:
        generate(project, max(sizes))
        for runs in sorted(sizes, reverse=True):
            keep(project, runs)
            results[runs].update(timings(project, runs, repeat))
    finally:
        shutil.rmtree(project, ignore_errors=True)
    return results


def show(label, sample, baseline):
    if sample is None:
        print(f"  {label:<26}  failed (non-zero exit)")
        return
    wall, cpu = sample
    print(f"  {label:<26}{wall * 1000:8.1f} ms wall {cpu * 1000:8.1f} ms cpu"
          f"  {wall / baseline[0]:6.1f}x python start-up")


def emit_rows(results, sizes, repeat):
    """One ``make bench`` row per size: ``ml list`` against ``python -c pass``.

    The target applies to the first size (1,000 runs by default), as the
    verdict printed below does.
    """
    for runs in sizes:
        listing = results[runs]["ml list"]
        rows.emit(f"ml list, {runs:,} runs, best of {repeat}",
                  listing[0] * 1000 if listing else float("nan"),
                  results[runs]["python -c pass"][0] * 1000, "ms",
                  target=TARGET_RATIO if runs == sizes[0] else None, higher_is_better=False,
                  note="python -c pass" if listing else "python -c pass; ml list failed")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (bench-quick)")
    parser.add_argument("--runs", help="comma-separated numbers of runs "
                                       "(default 1000,10000, quick 1000,1200)")
    parser.add_argument("--repeat", type=int, help="runs per command (default 3, quick 2)")
    opts = parser.parse_args()
    runs_list = opts.runs or ("1000,1200" if opts.quick else "1000,10000")
    opts.repeat = opts.repeat or (2 if opts.quick else 3)
    sizes = [int(n) for n in runs_list.split(",") if n.strip()]
    results = measure(sizes, opts.repeat)
    for runs in sizes:
        samples = results[runs]
        baseline = samples["python -c pass"]
        print(f"ml list over {runs} runs (best of {opts.repeat} by wall time, "
              f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores):")
        for label, sample in samples.items():
            show(label, sample, baseline)
    if len(sizes) > 1:
        print("growth of ml list (x python start-up of the same run):")
        for runs in sizes:
            base, listing = results[runs]["python -c pass"], results[runs]["ml list"]
            first_listing = results[runs]["ml list, first listing"]
            if listing and first_listing:
                print(f"  {runs:>7} runs: {listing[0] / base[0]:6.1f}x  "
                      f"(first listing {first_listing[0] / base[0]:6.1f}x)")
    print(f"  load average now: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    first = results[sizes[0]]
    listing = first["ml list"]
    ratio = listing[0] / first["python -c pass"][0] if listing else float("inf")
    ok = ratio <= TARGET_RATIO
    print(f"  target ml list over {sizes[0]} runs <= {TARGET_RATIO:.0f}x python start-up: "
          f"{ratio:.1f}x {'OK' if ok else 'TOO SLOW'}")
    emit_rows(results, sizes, opts.repeat)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
