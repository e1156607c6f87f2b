"""Searches (issue 29): ``--search=asha`` on Ray Tune against the full grid of the same values.

On the real ants and bees of ``../shared/data/hymenoptera`` (the 245 photos of
``train/`` as samples, 15% of them for validation; the 153 of ``val/`` as the
test split), MobileNet a0.25 with the shared ImageNet weights, the top only
(frozen backbone, cached features). One untimed warm-up run fills the feature
cache, shared by every project after it (``--cache-dir``, as
``workspace.train_hymenoptera`` lays a project out); then, for each seed
(``--random-seed``, so the same split for both), two ``ml train`` processes,
each in a fresh project folder (its own ``trainings/``), with the same lists
and epochs:

- ``grid`` (the baseline): ``ml train --learning-rate=... --dropout=...``, one
  run per combination, one after another in that process;
- ``asha``: the same command with ``--search=asha``: the same combinations as
  trials on a Ray of the process' own (no ``--ray-address``), ASHA stopping
  weak ones at a rung (their status ``stopped``).

Each process is timed from start to exit (TensorFlow's start-up, and for
``asha`` Ray's, included: what a user waits for). From the ``data.yaml`` of
its runs: the run a user would pick, the best ``val_acc`` among the runs that
``finished`` (ties: lower ``val_loss``, then the earlier run), and its
``test_acc``; the best ``test_acc`` of any run (what the search found at all,
picked by looking at the test split); and the epochs trained (the sum of
``results.epochs_done``: what ASHA saves, independent of Ray's start-up).

Each seed also prints how many of ASHA's trials trained to their end got the
test_acc of the grid's run of the same values (same seed, split and options).
When that is not all of them, a trial does not start where the local run
does, so the accuracy rows compare starting weights as well as the search
(measured here: none of them; the top's Dense kernels are drawn by Keras'
global generator, which building the backbone first, as a local run does,
advances).

Rows (means over the seeds, ASHA vs the grid; no targets, the issue sets
none): the picked run's test_acc, the best test_acc of any run, wall time,
epochs trained. The wall-time note gives Ray's fixed cost: from the
``cache:`` line (features read) to the first trial's first epoch. On a 2-core
machine two trials train at once and the top trains in about a second, so
Ray's start-up can outweigh what ASHA saves; the epochs row shows the saving.

Run: ``.venv/bin/python bench/bench_search.py [--quick]`` (224 px, seeds 1-3,
learning rate 1e-5,1e-4,1e-3,1e-2 x dropout 0,0.3,0.6, 20 epochs; ``--quick``:
96 px, seed 1, 1e-4,1e-2 x 0,0.5, 8 epochs). Needs
``../shared/weights/mobilenet_2_5_224_tf_no_top.h5`` (or VERGEML_TEST_WEIGHTS)
and Ray Tune (the ``ray`` extra). About 6 minutes here; ``--quick`` 1.
"""
import csv
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rows
from workspace import HYMENOPTERA, hymenoptera_bench

# The grid's lists and the epochs, by --quick.
PLAN = {False: {"epochs": 20, "axes": {"learning-rate": "1e-5,1e-4,1e-3,1e-2", "dropout": "0,0.3,0.6"}},
        True: {"epochs": 8, "axes": {"learning-rate": "1e-4,1e-2", "dropout": "0,0.5"}}}
KINDS = ("grid", "asha")
CACHE_LINE = re.compile(r"cache: ([\d,]+) hit, ([\d,]+) new")


def project(base, name):
    """A fresh project ``base/name``: ``train/`` linked as its samples (as ``train_hymenoptera``)."""
    root = base / name
    root.mkdir()
    (root / "samples").symlink_to(HYMENOPTERA / "train", target_is_directory=True)
    (root / "vergeml.yaml").write_text("model: imagenet\n")
    return root


def ml_argv(base, root, seed, size, *options):
    """The ``ml train`` command line of ``workspace.train_hymenoptera``, without its ``--name``."""
    return [str(Path(sys.executable).with_name("ml")), "--project-dir", str(root),
            f"--cache-dir={base / 'cache'}", f"--random-seed={seed}", "--val-split=15%",
            f"--test-split={HYMENOPTERA / 'val'}", "train", "--architecture=mobilenet",
            "--alpha=0.25", f"--size={size}", *options]


def timed_ml(argv, cwd, env):
    """Run one ``ml`` process in ``cwd``; ``(seconds, [(seconds since start, stdout line)], exit status,
    stderr)``. Lines are timed as they arrive (the child runs unbuffered)."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
        lines = [(time.perf_counter() - start, line.rstrip("\n")) for line in process.stdout]
        status = process.wait()
        seconds = time.perf_counter() - start
        err.seek(0)
        return seconds, lines, status, err.read().decode(errors="replace")


def first_time(lines, prefix):
    """When the first line starting with ``prefix`` arrived (None: none did)."""
    return next((t for t, line in lines if line.startswith(prefix)), None)


def runs_of(root, count):
    """The ``data.yaml`` of every run in ``root/trainings`` (one grid of ``count`` runs)."""
    import yaml
    runs = [yaml.safe_load(path.read_text()) for path in sorted((root / "trainings").glob("*/data.yaml"))]
    grids = {meta.get("grid") for meta in runs}
    if len(runs) != count or len(grids) != 1 or None in grids:
        sys.exit(f"{root}: expected one grid of {count} runs, found {len(runs)} runs of grids {grids}")
    return runs


def split_of(root):
    """``{file: split}`` of the project's runs (every run of a grid must have the same)."""
    splits = []
    for path in sorted((root / "trainings").glob("*/samples.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            splits.append({row["file"]: row["split"] for row in csv.DictReader(handle)})
    if any(split != splits[0] for split in splits):
        sys.exit(f"{root}: the runs of one grid have different splits")
    return splits[0]


def picked(runs):
    """The run a user picks: best val_acc among the finished, then lower val_loss, then earlier."""
    done = [m for m in runs if m.get("status") == "finished" and m["results"].get("val_acc") is not None]
    if not done:
        sys.exit("no run finished")
    return max(done, key=lambda m: (m["results"]["val_acc"], -m["results"].get("val_loss", 0.0),
                                    -m.get("grid_run", 0)))


def values_of(meta, plan):
    """The run's values of the grid's axes, as a hashable tuple."""
    return tuple(meta["hyperparameters"].get(k.replace("-", "_")) for k in plan["axes"])


def reproduced(result):
    """``(same, compared)``: ASHA's trials trained to their end whose test_acc equals the grid's
    run of the same values (same seed, split, options: a trial trains with the local code)."""
    pairs = [(status, acc, result["grid"]["by_values"].get(values))
             for values, (status, acc) in result["asha"]["by_values"].items()]
    compared = [(acc, grid[1]) for status, acc, grid in pairs if status == "finished" and grid
                and grid[0] == "finished"]
    return sum(abs(a - b) < 1e-9 for a, b in compared), len(compared)


def search(base, kind, seed, size, plan, env, count):
    """One ``ml train`` of the grid (``kind`` grid) or ASHA over it; its figures."""
    root = project(base, f"{kind}-seed-{seed}")
    axes = [f"--{name}={values}" for name, values in plan["axes"].items()]
    argv = ml_argv(base, root, seed, size, f"--epochs={plan['epochs']}", *axes,
                   *(["--search=asha"] if kind == "asha" else []))
    os.sync()  # the previous run's delayed disk writes are not this run's time
    seconds, lines, status, err = timed_ml(argv, root, env)
    runs = runs_of(root, count) if (root / "trainings").is_dir() else []
    failed = [m["name"] for m in runs if m.get("status") == "failed"]
    if status and not (status == 1 and failed):  # 1 with a failed run: a diverged run, reported
        sys.exit(f"{' '.join(argv)} failed ({status}):\n{err[-3000:]}")
    cache = next((CACHE_LINE.search(line) for _, line in lines if CACHE_LINE.search(line)), None)
    if cache is None or int(cache.group(2).replace(",", "")):
        sys.exit(f"{kind} seed {seed}: expected every feature from the cache, got "
                 f"{cache.group(0) if cache else 'no cache line'}")
    pick = picked(runs)
    features_read = first_time(lines, "cache:") or float("nan")
    first_epoch = first_time(lines, "Trial " if kind == "asha" else "Epoch 1/")
    statuses = {}
    for meta in runs:
        statuses[meta.get("status")] = statuses.get(meta.get("status"), 0) + 1
    return {"seconds": seconds, "test_acc": pick["results"]["test_acc"],
            "val_acc": pick["results"]["val_acc"],
            "values": {k: pick["hyperparameters"].get(k.replace("-", "_")) for k in plan["axes"]},
            "best_test_acc": max(m["results"].get("test_acc", 0.0) for m in runs if m.get("results")),
            "epochs": sum(m.get("results", {}).get("epochs_done", 0) for m in runs),
            "statuses": statuses, "failed": failed, "split": split_of(root),
            "by_values": {values_of(m, plan): (m.get("status"), m.get("results", {}).get("test_acc"))
                          for m in runs},
            "features_read": features_read,
            "to_first_epoch": float("nan") if first_epoch is None or features_read is None
            else first_epoch - features_read}


def one_seed(base, seed, size, plan, env, count, order):
    """Both searches of one seed (in ``order``); ``{kind: figures}``."""
    result = {kind: search(base, kind, seed, size, plan, env, count) for kind in order}
    if result["grid"]["split"] != result["asha"]["split"]:
        sys.exit(f"seed {seed}: the grid and ASHA trained on different splits")
    for kind in KINDS:
        r = result[kind]
        values = " ".join(f"{k}={v:g}" for k, v in r["values"].items())
        print(f"  seed {seed} {kind}: {r['seconds']:6.1f} s (features read at {r['features_read']:.1f} s, "
              f"first epoch {r['to_first_epoch']:.1f} s later), {r['epochs']} epochs, "
              f"{', '.join(f'{n} {s}' for s, n in sorted(r['statuses'].items()))}; picked {values}: "
              f"val_acc {r['val_acc']:.3f} test_acc {r['test_acc']:.3f}; best test_acc "
              f"{r['best_test_acc']:.3f}" + (f"; failed: {', '.join(r['failed'])}" if r["failed"] else ""),
              flush=True)
    same, compared = reproduced(result)
    print(f"  seed {seed}: {same} of {compared} ASHA trials trained to their end have the test_acc of "
          "the grid's run of the same values", flush=True)
    return result


def main():
    size, seeds, base = hymenoptera_bench(__doc__.splitlines()[0], "bench-search-")
    plan = PLAN["--quick" in sys.argv[1:]]
    try:
        __import__("ray.tune")
    except ImportError as err:
        shutil.rmtree(base, ignore_errors=True)
        sys.exit(f"Ray Tune is not installed ({err}): pip install -e '.[ray]'")
    count = 1
    for values in plan["axes"].values():
        count *= len(values.split(","))
    env = dict(os.environ, VERGEML_OFFLINE="1", TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
    started = time.monotonic()
    try:
        print(f"{count} runs ({' x '.join(f'{k} {v}' for k, v in plan['axes'].items())}), "
              f"{plan['epochs']} epochs, {size} px, seeds {', '.join(map(str, seeds))}; "
              f"{os.cpu_count()} CPUs; uptime: {uptime()}", flush=True)
        warm_up = project(base, "warm-up")
        warm, _, status, err = timed_ml(ml_argv(base, warm_up, seeds[0], size, "--epochs=1",
                                                "--name=warm-up"), warm_up, env)
        if status:
            sys.exit(f"the warm-up run failed ({status}):\n{err[-3000:]}")
        print(f"  warm-up (fills the feature cache, untimed): {warm:.0f} s", flush=True)
        results = [one_seed(base, seed, size, plan, env, count, KINDS[::-1] if index % 2 else KINDS)
                   for index, seed in enumerate(seeds)]
    finally:
        shutil.rmtree(base, ignore_errors=True)
    emit_rows(results, plan, size, len(seeds), count)
    print(f"uptime: {uptime()}; {time.monotonic() - started:.0f} s")


def emit_rows(results, plan, size, seeds, count):
    """The four rows, means over the seeds."""
    def mean(kind, key):
        return statistics.mean(r[kind][key] for r in results)

    def spread(kind, key):
        return statistics.pstdev(r[kind][key] for r in results)
    what = (f"{count} runs ({' x '.join(plan['axes'])}), {plan['epochs']} epochs, hymenoptera, "
            f"MobileNet a0.25 {size} px, top only, {seeds} seed{'s' if seeds > 1 else ''}")
    rows.emit(f"test_acc of the run picked by val_acc, --search=asha vs full grid, {what}",
              mean("asha", "test_acc"), mean("grid", "test_acc"), "acc",
              note=f"full grid, same lists; sd {spread('asha', 'test_acc'):.3f} vs "
                   f"{spread('grid', 'test_acc'):.3f}")
    rows.emit(f"best test_acc of any run, --search=asha vs full grid, {what}",
              mean("asha", "best_test_acc"), mean("grid", "best_test_acc"), "acc",
              note="full grid; picked by looking at the test split")
    ray = statistics.mean(r["asha"]["to_first_epoch"] for r in results)
    local = statistics.mean(r["grid"]["to_first_epoch"] for r in results)
    rows.emit(f"wall time, --search=asha vs full grid, {what}", mean("asha", "seconds"),
              mean("grid", "seconds"), "s", higher_is_better=False,
              note=f"full grid, whole ml train processes; features read to first epoch: "
                   f"{ray:.1f} s on Ray (its start-up) vs {local:.1f} s")
    rows.emit(f"epochs trained (sum of epochs_done), --search=asha vs full grid, {what}",
              mean("asha", "epochs"), mean("grid", "epochs"), "epochs", higher_is_better=False,
              note=f"full grid ({count} x {plan['epochs']} unless a run stopped early)")


def uptime():
    """``uptime``'s line (the load averages), or the load averages alone."""
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
