"""Issue 27's speed rows: predict time per image with unknown rejection and with ``--explain``.

On ``../shared/data/hymenoptera``: a project with the 245 photos of
``train/`` as its samples (a link), 15% of them for validation, the 153 of
``val/`` as the test split; one real ``ml train`` (the venv's ``ml``, a
child process: frozen top, the defaults, MobileNet a0.25 at 224 px with the
shared ImageNet weights), which also fits the unknown score. Then, in this
process, two :class:`~vergeml.models.imagenet.predictor.Predictor` of that
instance:

- ``with``: as ``ml @run predict`` loads it: the fused model plus the unknown
  score column (``Predictor._model``), records with ``unknown``,
  ``ood_score`` and ``threshold``;
- ``without``: the same instance with ``_model`` set to the plain fused model
  (``fused_model``) and no threshold, i.e. what ``predict`` was before
  rejection (``--reject=off`` still runs the scored model and only drops the
  fields, so it is not the baseline).

Their class probabilities are checked to agree, so the only difference is the
score layer. On the test photos, after a warm-up of each path (tracing, both
batch shapes), the settings alternate batch by batch (a burst of the
machine's other work falls on both alike) and each figure is the median over
the repeats of a pass's time, per image:

- the model call alone: ``predict_arrays`` (``preprocess_input`` and the
  model) on the photos decoded beforehand, in batches of 32 as ``predict``
  makes them;
- the whole ``predict_files`` (decoding included), top label only;
- ``--explain``: ``predict_files`` then ``explainer().write_for_results``
  (a Grad-CAM heatmap per photo and its PNG) against ``predict_files`` alone,
  both with rejection, as ``ml @run predict --explain`` runs.

Rows: predict time per image with rejection vs without, whole and model call
alone (target from the issue: at most 1.10x), and with ``--explain`` vs
without (no target); the Grad-CAM map alone (``Explainer._map`` on the
decoded photos, no decoding, no PNG) is printed too. The CPU time of each
figure (all threads; steadier than wall time on a loaded machine) is printed
beside it, for the record.

Run: ``.venv/bin/python bench/bench_trust_speed.py [--quick]`` (153 photos, 9
repeats, 27 of the model call alone, 5 with ``--explain``; ``--quick``: every
3rd photo of each class, 52, and 3 repeats, 9 of the model call). The
training is the same both ways (under a minute here).
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rows
from workspace import HYMENOPTERA, keras_home

BACKBONE = ["--architecture=mobilenet", "--alpha=0.25", "--size=224"]
MAX_RATIO = 1.10  # issue 27: rejection adds at most 10% to predict time
BATCH = 32        # as ImagePredictor.BATCH_SIZE
# Photos (every n-th of val/), timed repeats of rejection and of --explain, by --quick.
PLAN = {False: {"step": 1, "repeats": 9, "explain_repeats": 5},
        True: {"step": 3, "repeats": 3, "explain_repeats": 3}}
CALL_REPEATS = 3  # times as many repeats for the model call alone: cheap, and the noisiest


def train(base):
    """The project over the ants and bees and one ``ml train`` in a child process; the instance."""
    from vergeml.instances import load_instance
    root = base / "ants"
    root.mkdir()
    (root / "samples").symlink_to(HYMENOPTERA / "train", target_is_directory=True)
    (root / "vergeml.yaml").write_text("model: imagenet\n")
    seconds, _, _ = rows.run_ml(root, dict(os.environ), f"--cache-dir={base / 'cache'}",
                                "--val-split=15%", f"--test-split={HYMENOPTERA / 'val'}",
                                "train", *BACKBONE, "--name=run")
    print(f"  ml train: {seconds:.0f} s")
    return load_instance(root / "trainings", "run")


def test_photos(step):
    """Every ``step``-th photo of the test split (``val/``), as paths."""
    return [str(p) for folder in sorted((HYMENOPTERA / "val").iterdir())
            for p in sorted(folder.iterdir())[::step]]


def predictors(instance):
    """``(with rejection, without)``: the instance's predictor as ``ml predict`` loads it, and
    one running the plain fused model with no threshold."""
    import numpy as np
    from vergeml.models.imagenet.predictor import Predictor
    scored = Predictor(instance)
    if scored.threshold is None or scored._model is scored.fused_model:
        sys.exit(f"@{instance.name} has no unknown score")
    plain = Predictor(instance)
    plain._model, plain.threshold = plain.fused_model, None
    probe = np.random.default_rng(0).uniform(0, 255, (4, scored.size, scored.size, 3))
    ours, theirs = scored.predict_arrays(probe), plain.predict_arrays(probe)
    classes = len(scored.labels)
    if ours.shape[1] != classes + 1 or theirs.shape[1] != classes or \
            not np.allclose(ours[:, :classes], theirs, atol=1e-5):
        sys.exit("the scored and the plain model disagree on the class probabilities")
    return scored, plain


def decoded_batches(predictor, paths):
    """The photos decoded as ``predict_files`` decodes them, in its batches."""
    import numpy as np
    decoder = predictor.decoder
    images = [decoder.decode(decoder.open_path(p), None) for p in paths]
    return [np.stack(images[i:i + BATCH]) for i in range(0, len(images), BATCH)]


def timed(work, *args):
    """``(wall seconds, CPU seconds of the whole process)`` of ``work(*args)``."""
    cpu, wall = time.process_time(), time.perf_counter()
    work(*args)
    return time.perf_counter() - wall, time.process_time() - cpu


def alternate(settings, batches, repeats, count):
    """Median ms per image (wall, CPU) of each setting over ``repeats`` passes.

    The settings alternate batch by batch (the first one of each batch
    alternating too), so a burst of the machine's other work falls on both
    alike; a pass's time is the sum over its batches.

    Args:
        settings: name -> a function doing the work of one batch (its index).
        batches: how many batches make a pass.
        repeats: timed passes of each setting.
        count: images per pass.

    Returns:
        name -> ``(wall ms, CPU ms)`` per image.
    """
    passes = {name: [] for name in settings}
    for repeat in range(repeats):
        total = {name: [0.0, 0.0] for name in settings}
        for index in range(batches):
            order = list(settings) if (repeat + index) % 2 == 0 else list(reversed(settings))
            for name in order:
                wall, cpu = timed(settings[name], index)
                total[name][0] += wall
                total[name][1] += cpu
        for name in settings:
            passes[name].append(total[name])
    return {name: tuple(statistics.median(t[i] for t in runs) * 1000 / count for i in (0, 1))
            for name, runs in passes.items()}


def measure(instance, paths, plan, heatmaps):
    """Every figure of one trained instance: name -> (wall ms, CPU ms) per image."""
    scored, plain = predictors(instance)
    batches = decoded_batches(scored, paths)
    chunks = [paths[i:i + BATCH] for i in range(0, len(paths), BATCH)]  # predict_files' batches
    explainer = scored.explainer()

    def calls(predictor):
        return lambda index: predictor.predict_arrays(batches[index])

    def files(predictor):
        return lambda index: predictor.predict_files(chunks[index], top_k=1)

    def explain(index):
        explainer.write_for_results(scored.predict_files(chunks[index], top_k=1), heatmaps)

    label = scored.labels[0]

    def grad_cam(index):
        for image in batches[index]:
            explainer._map(image, label)

    for work in (calls(scored), calls(plain), files(scored), files(plain), explain, grad_cam):
        for index in range(len(chunks)):
            work(index)  # warm-up: tracing, both batch shapes, the Grad-CAM function
    figures = alternate({"call with": calls(scored), "call without": calls(plain)},
                        len(chunks), CALL_REPEATS * plan["repeats"], len(paths))
    figures.update(alternate({"files with": files(scored), "files without": files(plain)},
                             len(chunks), plan["repeats"], len(paths)))
    figures.update(alternate({"explain": explain, "no explain": files(scored)},
                             len(chunks), plan["explain_repeats"], len(paths)))
    figures.update(alternate({"grad-cam": grad_cam}, len(chunks), plan["explain_repeats"],
                             len(paths)))
    written = len(list(Path(heatmaps).glob("*.png")))
    if written != len(paths):
        sys.exit(f"--explain wrote {written} heatmaps for {len(paths)} photos")
    return figures


def report(figures, count, plan):
    """The CPU-time lines, then the three rows (wall time; the CPU ratio in the note)."""
    cpu = {}
    for ours, theirs in (("call with", "call without"), ("files with", "files without"),
                         ("explain", "no explain")):
        cpu[ours] = figures[ours][1] / figures[theirs][1]
        print(f"  {ours} vs {theirs}: CPU {figures[ours][1]:.2f} vs {figures[theirs][1]:.2f} ms "
              f"per image = {cpu[ours]:.2f}x")
    print(f"  of --explain, the Grad-CAM map alone (decoded photo in, no PNG): "
          f"{figures['grad-cam'][0]:.1f} ms per image (CPU {figures['grad-cam'][1]:.1f} ms)")
    what = f"hymenoptera ({count} test photos), MobileNet a0.25 224 px, median of"
    rows.emit(f"predict time per image with unknown rejection vs without, {what} {plan['repeats']}",
              figures["files with"][0], figures["files without"][0], "ms", target=MAX_RATIO,
              higher_is_better=False,
              note=f"fused model alone, decode included; CPU time {cpu['files with']:.2f}x")
    rows.emit(f"model call per image with unknown rejection vs without, {what} "
              f"{CALL_REPEATS * plan['repeats']}",
              figures["call with"][0], figures["call without"][0], "ms", target=MAX_RATIO,
              higher_is_better=False,
              note=f"fused model alone, decoded batches of 32; CPU time {cpu['call with']:.2f}x")
    rows.emit(f"predict time per image with --explain vs without, {what} {plan['explain_repeats']}",
              figures["explain"][0], figures["no explain"][0], "ms",
              note=f"predict_files alone, same predictor; CPU time {cpu['explain']:.2f}x")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="every 3rd test photo, 3 repeats")
    plan = PLAN[parser.parse_args().quick]
    if not HYMENOPTERA.is_dir():
        sys.exit(f"no photos at {HYMENOPTERA}")
    started = time.monotonic()
    print(f"  load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    base = Path(tempfile.mkdtemp(prefix="bench-trust-speed-"))
    try:
        if not keras_home(base):
            sys.exit("the shared MobileNet weights are missing")
        paths = test_photos(plan["step"])
        figures = measure(train(base), paths, plan, base / "heatmaps")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    report(figures, len(paths), plan)
    print(f"{time.monotonic() - started:.0f} s, load average {os.getloadavg()[0]:.2f} "
          f"on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
