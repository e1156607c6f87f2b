"""Issue 25's recipe rows: the frozen top's new defaults, ``--fine-tune-epochs=auto``, a plain Keras fine-tune.

Three sets of real photos, MobileNet a0.25 at 224 px with the shared ImageNet
weights: ``../shared/data/hymenoptera`` (ants and bees: ``train/`` as the
samples with ``--val-split=15%``, ``val/`` as a directory test split), the
LFW subset of ``bench_fine_tune.py`` and the photo set of ``bench/photos.py``
(both ``--val-split=20% --test-split=30%``). One project per set, so every
run shares its feature and image cache (an untimed warm-up run fills both
first) and, per seed, its remembered split. For each seed, five runs, each a
child process timed from start to exit with its peak resident set
(``os.wait4``):

- ``old``: the frozen top with the defaults before issue 25
  (``--early-stopping-patience=0 --class-weights=none``, 100 epochs);
- ``frozen``: the frozen top with today's defaults (plain ``ml train``);
- ``auto``: ``--fine-tune-epochs=auto`` (``--auto-args`` replaces it, e.g.
  ``--auto-args="--fine-tune-epochs=10 --fine-tune-layers=all"`` until auto exists);
- ``floor``: the frozen top trained for one epoch (``--epochs=1``): what a
  whole ``ml train`` costs whatever its top does (starting TensorFlow,
  reading the cache, testing, saving), the least any default could take;
- ``plain``: ``bench/plain_finetune.py``, the Keras guide's fine-tune of the
  whole backbone (Adam 1e-4, horizontal flips, batch 32, BatchNormalization
  in inference mode, the best val-loss epoch kept), on exactly the files and
  split of the ``auto`` run (its ``samples.csv``), for as many epochs as
  ``auto`` fine-tuned on images (its phase-2 epochs; phase 1 trains only the
  top on cached features, costing about one forward pass over the images);
  10 when ``auto`` did not fine-tune.

Rows per set (means over the seeds): test_acc and wall time of ``frozen`` vs
``old`` (targets: >= 1x, <= 0.5x); test_acc, wall time and peak RSS of
``auto`` vs ``frozen`` (target: at least 4 points more on hymenoptera, at most
1 point less on the others); test_acc of ``auto`` vs ``plain`` (target >= 1x
on hymenoptera). Wall times are whole processes (TensorFlow's start-up
included, as a user waits for them); a ``floor`` at or above half of ``old``
means no default can halve the whole process.

Run: ``.venv/bin/python bench/bench_recipe.py [--quick] [--sets=hymenoptera,lfw,photos]
[--auto-args=...]`` (seeds 1-3, every photo: 450 generated photos; ``--quick``:
seed 1, every second hymenoptera and LFW photo, 150 generated photos). Needs
``../shared/weights/mobilenet_2_5_224_tf_no_top.h5`` (or VERGEML_TEST_WEIGHTS).
Measured here (2 cores, with ``--auto-args="--fine-tune-epochs=10
--fine-tune-layers=all"``): hymenoptera alone, 3 seeds, 7 minutes; ``--quick``,
all three sets, 7 minutes. ``auto`` fine-tunes up to 30 epochs, so more with it.
"""
import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rows
from workspace import keras_home

HERE = Path(os.path.dirname(os.path.abspath(__file__)))
HYMENOPTERA = HERE.parents[1] / "shared" / "data" / "hymenoptera"
PLAIN = HERE / "plain_finetune.py"
BACKBONE = ["--architecture=mobilenet", "--alpha=0.25", "--size=224"]
OLD = ["--early-stopping-patience=0", "--class-weights=none"]
AUTO = "--fine-tune-epochs=auto"
WARM_UP = ["--epochs=1", "--fine-tune-epochs=1", "--fine-tune-layers=1", "--name=warm-up"]
SETS = ("hymenoptera", "lfw", "photos")
# Seeds, every n-th hymenoptera and LFW photo, generated photos, by --quick.
PLAN = {False: {"seeds": (1, 2, 3), "step": 1, "photos": 450},
        True: {"seeds": (1,), "step": 2, "photos": 150}}
# What auto must gain over the frozen top, in points of test accuracy (the others: lose at most 1).
GAIN = {"hymenoptera": 0.04}
MAX_LOSS = 0.01
PLAIN_FALLBACK = 10  # epochs of the plain fine-tune when auto fine-tuned none
KINDS = ("old", "frozen", "floor", "auto", "plain")
FLOOR = ["--epochs=1", "--class-weights=none"]


def make_hymenoptera(root, step):
    """``root/samples/<class>/`` (``train/``) and ``root/test/<class>/`` (``val/``), every
    ``step``-th file, as links; returns the split options."""
    for source, target in (("train", "samples"), ("val", "test")):
        for folder in sorted((HYMENOPTERA / source).iterdir()):
            (root / target / folder.name).mkdir(parents=True)
            for path in sorted(folder.iterdir())[::step]:
                (root / target / folder.name / path.name).symlink_to(path)
    return ["--val-split=15%", f"--test-split={root / 'test'}"]


def make_set(name, root, plan):
    """A fresh project of one set under ``root``; returns its split options."""
    root.mkdir(parents=True)
    (root / "vergeml.yaml").write_text("model: imagenet\n")
    if name == "hymenoptera":
        return make_hymenoptera(root, plan["step"])
    if name == "lfw":
        from bench_fine_tune import make_project
        make_project(root, plan["step"])
    else:
        from photos import make_photos
        make_photos(root / "samples", plan["photos"], seed=0)
    return ["--val-split=20%", "--test-split=30%"]


def child(argv, cwd, env):
    """Run ``argv`` as a child process; ``(seconds, CPU seconds, peak RSS in MB, stdout)``.

    ``os.wait4`` gives this child's own resource use (``RUSAGE_CHILDREN``'s peak
    would be the maximum over every child so far). CPU time (user + system, all
    threads) is steadier than wall time on a loaded machine. A failure ends the
    benchmark.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode:
            sys.exit(f"{' '.join(map(str, argv))} failed ({process.returncode}):\n"
                     f"{err.read().decode(errors='replace')[-3000:]}")
        return (seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024,
                out.read().decode(errors="replace"))


def ml_train(root, env, splits, seed, name, extra):
    """One ``ml train`` of the run ``name``; its figures."""
    import yaml
    argv = [str(Path(sys.executable).with_name("ml")), f"--random-seed={seed}", *splits, "train",
            *BACKBONE, *extra, f"--name={name}"]
    seconds, cpu, rss, _ = child(argv, root, env)
    meta = yaml.safe_load((root / "trainings" / name / "data.yaml").read_text())
    results, history = meta["results"], meta.get("history") or []
    return {"test_acc": results["test_acc"], "seconds": seconds, "cpu": cpu, "rss_mb": rss,
            "epochs": results["epochs_done"], "best_epoch": results["best_epoch"],
            "top_seconds": results.get("top_seconds", 0.0),
            "tune_epochs": sum(1 for row in history if row.get("phase", "top") != "top")}


def plain_train(root, env, seed, run, epochs):
    """``plain_finetune.py`` on the split of ``run``, for ``epochs``; its figures."""
    seconds, cpu, rss, out = child([sys.executable, str(PLAIN), str(root), run, f"--epochs={epochs}",
                               f"--seed={seed}"], root, env)
    result = json.loads(out.strip().splitlines()[-1])
    return {"test_acc": result["test_acc"], "seconds": seconds, "cpu": cpu, "rss_mb": rss,
            "epochs": epochs, "best_epoch": result["best_epoch"], "tune_epochs": epochs,
            "top_seconds": 0.0}


def one_seed(root, env, splits, seed, auto_args):
    """The five runs of one seed: ``{kind: figures}``."""
    runs = {"old": ml_train(root, env, splits, seed, f"old-{seed}", OLD),
            "frozen": ml_train(root, env, splits, seed, f"frozen-{seed}", []),
            "floor": ml_train(root, env, splits, seed, f"floor-{seed}", FLOOR),
            "auto": ml_train(root, env, splits, seed, f"auto-{seed}", auto_args)}
    budget = runs["auto"]["tune_epochs"] or PLAIN_FALLBACK
    runs["plain"] = plain_train(root, env, seed, f"auto-{seed}", budget)
    for kind, run in runs.items():
        images = f", {run['tune_epochs']} on images" if kind == "auto" else ""
        print(f"  seed {seed} {kind:<6} test_acc {run['test_acc']:.3f}  {run['seconds']:6.1f} s "
              f"(CPU {run['cpu']:6.1f} s)  "
              f"peak RSS {run['rss_mb']:6.0f} MB  epochs {run['epochs']} (best {run['best_epoch']}"
              f"{images})", flush=True)
    return runs


def mean(runs, kind, key):
    return statistics.mean(run[kind][key] for run in runs)


def points_target(name, baseline):
    """The ratio target of auto's test_acc over the frozen top's, from the points it must gain."""
    gain = GAIN.get(name, -MAX_LOSS)
    return (baseline + gain) / baseline if baseline else None, gain


def emit_rows(name, runs, what, auto_note):
    """The rows of one set, means over its seeds."""
    acc = {kind: mean(runs, kind, "test_acc") for kind in KINDS}
    sec = {kind: mean(runs, kind, "seconds") for kind in KINDS}
    cpu = {kind: mean(runs, kind, "cpu") for kind in KINDS}
    rss = {kind: max(run[kind]["rss_mb"] for run in runs) for kind in KINDS}
    sd = {kind: statistics.pstdev(run[kind]["test_acc"] for run in runs) for kind in KINDS}
    rows.emit(f"test_acc frozen top, new vs old defaults, {what}", acc["frozen"], acc["old"], "acc",
              target=1.0, note=f"--early-stopping-patience=0 --class-weights=none; sd {sd['frozen']:.3f} "
                               f"vs {sd['old']:.3f}")
    rows.emit(f"wall time frozen top, new vs old defaults, {what}", sec["frozen"], sec["old"], "s",
              target=0.5, higher_is_better=False,
              note=f"old defaults, whole ml train processes; CPU {cpu['frozen']:.1f} vs {cpu['old']:.1f} s")
    rows.emit(f"wall time floor (one epoch of the top) vs old defaults, {what}", sec["floor"], sec["old"],
              "s", higher_is_better=False,
              note="old defaults, whole processes; the least any default of the top could take: "
                   "above 0.5x, halving the whole process is out of reach")
    top = {kind: mean(runs, kind, "top_seconds") for kind in ("old", "frozen")}
    rows.emit(f"wall time of the top's training, new vs old defaults, {what}", top["frozen"], top["old"],
              "s", target=0.5, higher_is_better=False,
              note="old defaults; results.top_seconds: phase 1 alone, without the fixed cost of "
                   "starting TensorFlow, reading the cache, testing and saving")
    target, gain = points_target(name, acc["frozen"])
    rows.emit(f"test_acc auto vs frozen top, {what}", acc["auto"], acc["frozen"], "acc", target=target,
              note=f"frozen top, target {gain * 100:+.0f} points; {auto_note}; sd {sd['auto']:.3f} "
                   f"vs {sd['frozen']:.3f}")
    rows.emit(f"wall time auto vs frozen top, {what}", sec["auto"], sec["frozen"], "s",
              higher_is_better=False, note=f"frozen top; CPU {cpu['auto']:.1f} vs {cpu['frozen']:.1f} s; "
                                           f"plain Keras fine-tune {sec['plain']:.1f} s (CPU {cpu['plain']:.1f})")
    rows.emit(f"peak RSS auto vs frozen top, {what}", rss["auto"], rss["frozen"], "MB",
              higher_is_better=False, note=f"frozen top; plain Keras fine-tune {rss['plain']:.0f} MB")
    epochs = "/".join(str(run["plain"]["epochs"]) for run in runs)
    rows.emit(f"test_acc auto vs plain Keras fine-tune, {what}", acc["auto"], acc["plain"], "acc",
              target=1.0 if name in GAIN else None,
              note=f"bench/plain_finetune.py, {epochs} epochs, auto's split; sd {sd['plain']:.3f}")


def bench_set(tmp, name, plan, auto_args, env):
    """Every seed of one set, then its rows; returns the runs."""
    root = tmp / name
    splits = make_set(name, root, plan)
    count = sum(1 for path in root.rglob("*") if path.suffix.lower() in (".jpg", ".jpeg", ".png"))
    start = time.perf_counter()
    warm, _, _, _ = child([str(Path(sys.executable).with_name("ml")), f"--random-seed={plan['seeds'][0]}",
                        *splits, "train", *BACKBONE, *WARM_UP], root, env)
    print(f"{name}: {count} photos; warm-up (fills the caches, untimed) {warm:.0f} s", flush=True)
    runs = [one_seed(root, env, splits, seed, auto_args) for seed in plan["seeds"]]
    print(f"  {'run':<7}{'test_acc':>9}{'sd':>7}{'seconds':>9}{'CPU s':>8}{'peak MB':>9}  per seed",
          flush=True)
    for kind in KINDS:
        accs = [run[kind]["test_acc"] for run in runs]
        peak = max(run[kind]["rss_mb"] for run in runs)
        print(f"  {kind:<7}{statistics.mean(accs):>9.3f}{statistics.pstdev(accs):>7.3f}"
              f"{mean(runs, kind, 'seconds'):>9.1f}{mean(runs, kind, 'cpu'):>8.1f}{peak:>9.0f}  "
              f"{' '.join(f'{a:.3f}' for a in accs)}")
    seeds = len(plan["seeds"])
    what = f"{name} ({count} photos), MobileNet a0.25 224 px, {seeds} seed{'s' if seeds > 1 else ''}"
    auto_note = "auto = " + " ".join(auto_args)
    emit_rows(name, runs, what, auto_note)
    print(json.dumps({name: runs}))
    print(f"{name}: {time.perf_counter() - start:.0f} s", flush=True)
    return runs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="seed 1, smaller sets (bench-quick)")
    parser.add_argument("--sets", default=",".join(SETS), help=f"comma-separated, of {', '.join(SETS)}")
    parser.add_argument("--auto-args", default=AUTO, help=f"what the auto run adds to ml train [{AUTO}]")
    parser.add_argument("--seeds", help="comma-separated seeds (default: 1,2,3; --quick: 1)")
    opts = parser.parse_args()
    plan = dict(PLAN[opts.quick])
    if opts.seeds:
        plan["seeds"] = tuple(int(seed) for seed in opts.seeds.split(","))
    sets = [name.strip() for name in opts.sets.split(",") if name.strip()]
    if not sets or any(name not in SETS for name in sets):
        parser.error(f"--sets: choose from {', '.join(SETS)}")
    if "hymenoptera" in sets and not HYMENOPTERA.is_dir():
        sys.exit(f"no photos at {HYMENOPTERA}")
    auto_args = shlex.split(opts.auto_args)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-recipe-") as tmp:
        if not keras_home(tmp):
            sys.exit("the shared MobileNet weights are missing (../shared/weights)")
        env = dict(os.environ, VERGEML_OFFLINE="1", TF_CPP_MIN_LOG_LEVEL="2")
        print(f"seeds {', '.join(map(str, plan['seeds']))}; auto = {' '.join(auto_args)}; "
              f"load average {os.getloadavg()[0]:.2f}", flush=True)
        for name in sets:
            bench_set(Path(tmp), name, plan, auto_args, env)
    print(f"load average {os.getloadavg()[0]:.2f}; {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
