"""Benchmark ``ml ui`` on 1,000 runs and a run of 10,000 test images.

Builds a synthetic project in a temporary folder: 1,000 run folders whose
``data.yaml`` is written through ``Instance.save()`` as ``ml train`` writes it
(results, a per-epoch history with ``phase``, 10 grids of 10 runs among them),
one of them with ``stats/test_predictions.npz`` over 10,000 test rows and
``checkpoints/labels.txt`` (10 classes), and the 10,000 test images as small
real JPEG files under ``samples/<class>/``. Then starts the real ``ml ui
--port=0 --no-browser`` as a subprocess (a fresh server for each figure, so
every "cold" figure is a first request of a new process; the files are in the
OS page cache) and measures, each against a baseline measured in the same run:

- launch: from starting ``ml ui`` to the first 200 answer of ``GET /`` (median
  of 3 after one untimed launch); baseline ``ml list`` on the same runs, a
  subprocess too (median of 3). Target: under 2 s. Also printed: the first
  launch without the index of run summaries (every ``data.yaml`` read).
- pages: the first (cold) request and the median of 5 warm ones of the runs
  page (first, page 20, a filter sorted by test_acc), the big run's page, a
  gallery page of its wrong images, a confusion-cell gallery and its ROC and
  PR charts (the run's page shows both). Baselines: the runs pages against ``ml list --output json`` (with the
  same filter and sort) run in this process (the same listing without HTTP
  or HTML); the run's pages against a plain ``numpy.load`` of its
  ``test_predictions.npz`` (every array read). Target: cold and warm each
  under 1 s.
- thumbnails: the 60 thumbnails of a gallery page fetched one after another
  on one kept-alive connection, cold (the cache folder emptied: each one made) vs warm (made before, read
  from the project's cache); median of 3 and of 5. Target: warm <= 0.5x cold.
- that no server process mapped TensorFlow (``/proc/<pid>/maps``, Linux).

Exits 1 when a target is missed or a server loaded TensorFlow. ``--quick``
(bench-quick): the same sizes (the issue's), one timed launch instead of 3.

Usage: python bench/bench_ui.py [--quick] [--runs N] [--images N] [--keep DIR]
"""
import argparse
import html
import http.client
import io
import multiprocessing
import os
import random
import re
import selectors
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from unittest import mock
from urllib.parse import urlencode

import numpy as np

from vergeml.instances.instance import Instance
from vergeml.instances.names import random_name

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rows

LAUNCH_TARGET = 2.0  # seconds, from the command to the first page
PAGE_TARGET = 1.0  # seconds per page, cold and warm
THUMB_TARGET = 0.5  # warm / cold
WARM = 5
LABELS = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
ACCURACY = 0.6  # of the big run: 4,000 wrong of 10,000, so the wrong gallery has 67 pages
GRIDS, GRID_SIZE = 10, 10
IMAGE_SIZE = 64
STATUSES = ("finished",) * 7 + ("cancelled", "failed", "finished")
BIG = "bench-big-10k"
PORT_LINE = re.compile(r"ml ui on http://127\.0\.0\.1:(\d+)/")


# -- the synthetic project ---------------------------------------------------------------------

def metadata(name, index, rng, labels=LABELS, num_test=1000, grid=None):
    """Metadata shaped like a finished run's ``data.yaml`` (docs/architecture.md)."""
    top = 20 if rng.random() < 0.8 else rng.randint(1, 19)
    tuned = rng.random() < 0.3
    history = [{"epoch": e, "phase": "top", "acc": rng.random(), "loss": rng.random(),
                "val_acc": rng.random(), "val_loss": rng.random()} for e in range(1, top + 1)]
    if tuned:
        history += [{"epoch": e, "phase": "fine-tune", "acc": rng.random(), "loss": rng.random(),
                     "val_acc": rng.random(), "val_loss": rng.random()}
                    for e in range(top + 1, top + 6)]
    start = 1_700_000_000 + index * 600
    iso = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(start))
    end = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(start + 300))
    meta = {"name": name, "model": "imagenet",
            "backbone": rng.choice(["mobilenet", "resnet50", "inceptionv3", "xception"]),
            "status": rng.choice(STATUSES), "host": "bench-host", "error": None}
    if grid:
        meta["grid"], meta["grid_run"] = grid
    meta["hyperparameters"] = {
        "architecture": "mobilenet", "variant": "auto", "size": 96, "alpha": 0.25,
        "layers": 1, "output_layer": "last", "batch_size": rng.choice([16, 32, 64]),
        "optimizer": "adam", "learning_rate": rng.choice([1e-4, 1e-3, 5e-3]),
        "decay": 0.0, "dropout": rng.choice([0.0, 0.2, 0.5]), "epochs": 20,
        "fine_tune_epochs": 5 if tuned else 0, "early_stopping_delta": 0.0,
        "early_stopping_patience": 0, "weights": "imagenet", "labels": list(labels)}
    meta["results"] = {
        "created_at": float(start), "training_start": iso, "training_end": end,
        "epochs_done": len(history), "best_epoch": rng.randint(1, len(history)),
        "acc": rng.random(), "loss": rng.random(), "val_acc": rng.random(),
        "val_loss": rng.random(), "test_acc": rng.random(), "test_loss": rng.random(),
        "balanced_acc": rng.random(), "macro_f1": rng.random(), "auc": rng.random(),
        "test_ece": rng.random() / 10, "tuned": tuned, "num_samples": 9000}
    meta["history"] = history
    meta["data"] = {"fingerprint": "%032x" % rng.getrandbits(128), "num_train": 9000,
                    "num_val": 1000, "num_test": num_test, "labels": list(labels)}
    meta["versions"] = {"vergeml": "0.2.0", "python": "3.11", "tensorflow": "2.16",
                        "keras": "3.0", "numpy": "1.26"}
    return meta


def _write_runs(trainings, indices, seed):
    rng = random.Random(seed)
    grid_rng = random.Random(1)  # the same grid ids in every worker
    grids = ["g-%06x" % grid_rng.getrandbits(24) for _ in range(GRIDS)]
    with mock.patch("os.fsync"):  # what is timed is reading them, not writing them
        for index in indices:
            name = f"{random_name(rng)}-{index}"
            folder = trainings / name
            folder.mkdir()
            for sub in ("checkpoints", "stats", "plots", "tensorboard"):
                (folder / sub).mkdir()
            grid = None
            if 100 <= index < 100 + GRIDS * GRID_SIZE:  # 10 grids of 10 runs
                grid = (grids[(index - 100) // GRID_SIZE], (index - 100) % GRID_SIZE + 1)
            Instance(folder, metadata(name, index, rng, grid=grid)).save()


def _write_images(samples, items, seed):
    """Small real JPEG files: a colour gradient plus noise, one per ``(relpath, class)``."""
    from PIL import Image
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE]
    for relpath, cls in items:
        base = np.stack([x * 255 // IMAGE_SIZE, y * 255 // IMAGE_SIZE,
                         np.full_like(x, cls * 25)], -1)
        noise = rng.integers(-40, 40, (IMAGE_SIZE, IMAGE_SIZE, 3))
        Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8)).save(
            samples / relpath, "JPEG", quality=85)


def predictions(count, seed=0):
    """``(y_true, y_prob float32, files)`` of a 10-class run right on :data:`ACCURACY` of them."""
    rng = np.random.default_rng(seed)
    classes = len(LABELS)
    y_true = rng.permutation(np.arange(count) % classes)
    right = rng.random(count) < ACCURACY
    predicted = np.where(right, y_true, (y_true + rng.integers(1, classes, count)) % classes)
    prob = rng.dirichlet(np.full(classes, 0.5), count)
    rows_ = np.arange(count)
    top = prob.argmax(axis=1)
    prob[rows_, top], prob[rows_, predicted] = prob[rows_, predicted], prob[rows_, top]
    files = [f"{LABELS[c]}/{i:05d}.jpg" for i, c in enumerate(y_true)]
    return y_true, prob.astype("float32"), files


def _label_results(y_true, y_prob):
    """``<label>_precision/_recall/_f1`` and test_acc as a real run stores them."""
    predicted = y_prob.argmax(axis=1)
    results = {"test_acc": float((predicted == y_true).mean())}
    for i, label in enumerate(LABELS):
        hits = float(((predicted == i) & (y_true == i)).sum())
        precision = hits / max(1, (predicted == i).sum())
        recall = hits / max(1, (y_true == i).sum())
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        results.update({f"{label}_precision": float(precision), f"{label}_recall": float(recall),
                        f"{label}_f1": float(f1)})
    return results


def build_project(project, runs, images):
    """The synthetic project (see the module's doc); one writer process per core.

    Returns:
        ``{"runs": seconds, "images": seconds}`` it took to write them.
    """
    from vergeml.instances.run_files import write_predictions_csv
    (project / "vergeml.yaml").write_text("model: imagenet\n")
    trainings, samples = project / "trainings", project / "samples"
    trainings.mkdir()
    for label in LABELS:
        (samples / label).mkdir(parents=True)
    workers = os.cpu_count() or 1
    took = {}
    start = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        pool.starmap(_write_runs, [(trainings, range(w + 1, runs, workers), w)
                                   for w in range(workers)])
        took["runs"] = time.perf_counter() - start
        y_true, y_prob, files = predictions(images)
        items = list(zip(files, y_true.tolist()))
        start = time.perf_counter()
        pool.starmap(_write_images, [(samples, items[w::workers], w) for w in range(workers)])
        took["images"] = time.perf_counter() - start
    folder = trainings / BIG  # the 1,000th run: the one with 10,000 test predictions
    for sub in ("checkpoints", "stats", "plots", "tensorboard"):
        (folder / sub).mkdir(parents=True)
    meta = metadata(BIG, 0, random.Random(7), num_test=images)
    meta["status"] = "finished"
    meta["results"].update(_label_results(y_true, y_prob))
    instance = Instance(folder, meta)
    instance.save()
    instance.labels_path.write_text("".join(f"{label}\n" for label in LABELS))
    with open(instance.predictions_path, "wb") as handle:  # as training/evaluation.py writes it
        np.savez(handle, y_true=y_true, y_prob=y_prob, files=np.array(files))
    write_predictions_csv(instance, files, y_true.tolist(), y_prob.tolist(), list(LABELS))
    return took


# -- the server --------------------------------------------------------------------------------

def child_env():
    """The environment of the timed commands: byte-code caches allowed (as users run ml)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("VERGEML_DEBUG", None)
    return env


def ml_command():
    script = Path(sys.executable).with_name("ml")
    return [str(script)] if script.exists() else [sys.executable, "-m", "vergeml"]


class Server:
    """A real ``ml ui --port=0 --no-browser`` in ``project``.

    ``started`` is the ``perf_counter()`` of the launch; ``port`` is read from the
    line it prints. Stop it with :meth:`stop` (SIGTERM, which it treats as Ctrl-C).
    """

    def __init__(self, project, env):
        self.errors = tempfile.TemporaryFile()
        self.started = time.perf_counter()
        self.proc = subprocess.Popen([*ml_command(), "ui", "--port=0", "--no-browser"],
                                     cwd=project, env=env, stdout=subprocess.PIPE,
                                     stderr=self.errors)
        self.port = self._read_port(deadline=self.started + 60)

    def _read_port(self, deadline):
        selector = selectors.DefaultSelector()
        selector.register(self.proc.stdout, selectors.EVENT_READ)
        output = b""
        while time.perf_counter() < deadline:
            if selector.select(timeout=max(0.0, deadline - time.perf_counter())):
                line = self.proc.stdout.readline()
                if not line:
                    break
                output += line
                match = PORT_LINE.search(line.decode("utf-8", "replace"))
                if match:
                    return int(match.group(1))
        self.stop()
        sys.exit(f"ml ui printed no port:\n{output.decode(errors='replace')}{self.stderr()}")

    def get(self, path, expect=200):
        """``(seconds, body, headers)`` of one ``GET`` on a new connection, as a browser's first."""
        start = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            conn.request("GET", path)
            answer = conn.getresponse()
            body = answer.read()
        finally:
            conn.close()
        seconds = time.perf_counter() - start
        if answer.status != expect:
            self.stop()
            sys.exit(f"GET {path}: {answer.status}, expected {expect}\n"
                     f"{body[:2000].decode(errors='replace')}{self.stderr()}")
        return seconds, body, answer.headers

    def first_page(self, path="/"):
        """Seconds from the launch to the first 200 answer of ``GET path`` (polled)."""
        deadline = self.started + 60
        while True:
            try:
                self.get(path)
                return time.perf_counter() - self.started
            except ConnectionError:
                if time.perf_counter() > deadline:
                    raise
                time.sleep(0.005)

    def tensorflow_mapped(self):
        """Whether the server mapped a TensorFlow library (None: no ``/proc`` to tell)."""
        try:
            maps = Path(f"/proc/{self.proc.pid}/maps").read_text()
        except OSError:
            return None
        return "tensorflow" in maps.lower()

    def stderr(self):
        self.errors.seek(0)
        text = self.errors.read().decode(errors="replace")
        return f"\nml ui stderr:\n{text[-3000:]}" if text else ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()


def median(values):
    return statistics.median(values)


# -- the figures -------------------------------------------------------------------------------

def launches(project, env, repeat, tensorflow):
    """Seconds from launching ``ml ui`` to its first ``GET /`` 200, ``repeat`` times."""
    times = []
    for _ in range(repeat):
        server = Server(project, env)
        try:
            times.append(server.first_page("/"))
            tensorflow.append(server.tensorflow_mapped())
        finally:
            server.stop()
    return times


def page_paths(runs_total, images):
    """``[(label, path, check, baseline key)]``: the pages timed, and what each must show."""
    filtered = "/?" + urlencode({"q": "test_acc -gt 0.5", "sort": "test_acc"})
    return [
        (f"/ (runs page, {runs_total:,} runs)", "/", f"1–50 of {runs_total}</span>", "list"),
        ("/?page=20", "/?page=20", f"951–1000 of {runs_total}</span>", "list"),
        ("/?q=test_acc -gt 0.5&sort=test_acc", filtered, "test_acc ▼", "list filtered"),
        (f"/run/<big> ({images:,} predictions)", f"/run/{BIG}", 'class="confusion"', "npz"),
        ("/run/<big>/images?wrong=1&page=50", f"/run/{BIG}/images?wrong=1&page=50",
         "2941–3000 of", "npz"),
        ("/run/<big>/images?true=0&pred=0 (a confusion cell)",
         f"/run/{BIG}/images?true=0&pred=0", "<figure>", "npz"),
        ("/run/<big>/roc.svg", f"/run/{BIG}/roc.svg", "<svg", "npz"),
        ("/run/<big>/pr.svg", f"/run/{BIG}/pr.svg", "<svg", "npz"),
    ]


def pages(project, env, paths, tensorflow):
    """``{label: (cold seconds, [warm seconds])}``, each page on a fresh server."""
    timings = {}
    for label, path, check, _ in paths:
        server = Server(project, env)
        try:
            server.first_page("/static/ui.css")  # ready, nothing of the project read yet
            cold, body, _ = server.get(path)
            text = body.decode("utf-8", "replace")
            if check not in text:
                sys.exit(f"GET {path}: the page does not show {check!r}:\n{text[:3000]}")
            if "<figure>" in check and text.count("<figure>") != 60:
                sys.exit(f"GET {path}: {text.count('<figure>')} images, expected 60")
            warm = [server.get(path)[0] for _ in range(WARM)]
            tensorflow.append(server.tensorflow_mapped())
        finally:
            server.stop()
        timings[label] = (cold, warm)
    return timings


def thumbnails(project, env, tensorflow, cold_repeat=3):
    """``(cold seconds, warm seconds, count)``: the thumbnails of one gallery page, fetched one
    after another on one connection; cold with the thumbnail cache emptied before each round (median of
    ``cold_repeat``), warm from the cache (median of :data:`WARM`)."""
    cache = project / ".cache" / "ui-thumbnails"
    server = Server(project, env)
    try:
        server.first_page("/static/ui.css")
        _, body, _ = server.get(f"/run/{BIG}/images?wrong=1")
        srcs = [html.unescape(s) for s in re.findall(r'src="(/thumb\?[^"]+)"', body.decode())]
        if len(srcs) != 60:
            sys.exit(f"the gallery page has {len(srcs)} thumbnails, expected 60")

        def fetch_all():  # on one kept-alive connection, as a browser fetches a page's images
            start = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
            try:
                for src in srcs:
                    conn.request("GET", src)
                    answer = conn.getresponse()
                    answer.read()
                    if answer.status != 200 or answer.headers.get("X-Missing") \
                            or answer.headers.get("Content-Type") != "image/jpeg":
                        sys.exit(f"GET {src}: {answer.status}, not a thumbnail")
            finally:
                conn.close()
            return time.perf_counter() - start
        cold = []
        for _ in range(cold_repeat):
            shutil.rmtree(cache, ignore_errors=True)
            cold.append(fetch_all())
        made = len(list(cache.glob("thumb-*.jpg"))) if cache.is_dir() else 0
        if made != len(srcs):
            sys.exit(f"{made} thumbnails cached under {cache}, expected {len(srcs)}")
        warm = [fetch_all() for _ in range(WARM)]
        tensorflow.append(server.tensorflow_mapped())
    finally:
        server.stop()
    return median(cold), median(warm), len(srcs)


def in_process(argv, repeat=WARM):
    """Median seconds of ``ml <argv>`` run in this process (one untimed run first)."""
    from vergeml.cli.main import main as cli
    times = []
    for attempt in range(repeat + 1):
        out = io.StringIO()
        start = time.perf_counter()
        with redirect_stdout(out), redirect_stderr(io.StringIO()):
            status = cli(argv)
        seconds = time.perf_counter() - start
        if status:
            sys.exit(f"ml {' '.join(argv)} failed ({status})")
        if attempt:
            times.append(seconds)
    return median(times)


def npz_load(path, repeat=WARM):
    """Median seconds of a plain ``numpy.load`` of every array of ``path`` (one untimed first)."""
    times = []
    for attempt in range(repeat + 1):
        start = time.perf_counter()
        with np.load(path, allow_pickle=False) as data:
            arrays = [data[key] for key in data.files]
        seconds = time.perf_counter() - start
        assert len(arrays[0]) > 0
        if attempt:
            times.append(seconds)
    return median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one timed launch (bench-quick)")
    parser.add_argument("--runs", type=int, default=1000, help="run folders (default 1000)")
    parser.add_argument("--images", type=int, default=10000,
                        help="test images of the big run (default 10000)")
    parser.add_argument("--keep", metavar="DIR", help="build the project in DIR and keep it")
    opts = parser.parse_args()
    if opts.images < 7500 or opts.runs < 1000:  # 50 pages of wrong images, 20 of runs
        parser.error("--images >= 7500 and --runs >= 1000 (the pages timed need them)")
    launch_repeat = 1 if opts.quick else 3
    project = Path(opts.keep) if opts.keep else Path(tempfile.mkdtemp(prefix="bench-ui-"))
    if opts.keep:
        project.mkdir(parents=True)
    env, tensorflow = child_env(), []
    try:
        took = build_project(project, opts.runs, opts.images)
        print(f"project: {opts.runs:,} runs written in {took['runs']:.1f} s, {opts.images:,} "
              f"JPEG files {IMAGE_SIZE}x{IMAGE_SIZE} in {took['images']:.1f} s ({project})")
        launches(project, env, 1, tensorflow)  # untimed: byte code written, as users run ml
        # The first launch without the index of run summaries that ml list (and ml ui) keep:
        # every data.yaml read; a fresh clone, or the first look at runs trained elsewhere.
        (project / "trainings" / ".index.marshal").unlink()
        no_index = launches(project, env, 1, tensorflow)[0]
        rows.run_ml(project, env, "list")  # untimed
        listing = median([rows.run_ml(project, env, "list")[0] for _ in range(3)])
        launch = median(launches(project, env, launch_repeat, tensorflow))
        paths = page_paths(opts.runs, opts.images)
        timings = pages(project, env, paths, tensorflow)
        thumb_cold, thumb_warm, thumbs = thumbnails(project, env, tensorflow)
        base = ["--project-dir", str(project), "list", "--output", "json"]
        baselines = {"list": in_process(base),
                     "list filtered": in_process([*base, "test_acc", "-gt", "0.5",
                                                  "--sort", "test_acc"]),
                     "npz": npz_load(project / "trainings" / BIG / "stats" / "test_predictions.npz")}
    finally:
        if not opts.keep:
            shutil.rmtree(project, ignore_errors=True)
    notes = {"list": "ml list --output json, in-process",
             "list filtered": "ml list test_acc -gt 0.5 --sort test_acc --output json, in-process",
             "npz": f"numpy.load of the {opts.images:,}-row npz"}
    load = os.getloadavg()
    print(f"\nml ui, {opts.runs:,} runs, a run of {opts.images:,} test images "
          f"(load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {os.cpu_count()} cores):")
    missed = []
    print(f"  launch to first GET / 200: {launch:.3f} s (median of {launch_repeat}); "
          f"ml list {listing:.3f} s; first launch without ml list's index {no_index:.3f} s")
    if launch >= LAUNCH_TARGET:
        missed.append("launch")
    print(f"  {'page':<52} {'cold':>9} {'warm':>9}  baseline")
    for label, _, _, key in paths:
        cold, warm = timings[label]
        print(f"  {label:<52} {cold * 1000:6.1f} ms {median(warm) * 1000:6.1f} ms  "
              f"{baselines[key] * 1000:.1f} ms {notes[key]}")
        if max(cold, median(warm)) >= PAGE_TARGET:
            missed.append(label)
    print(f"  {thumbs} thumbnails one after another, one connection: cold {thumb_cold * 1000:.0f} ms, "
          f"warm {thumb_warm * 1000:.0f} ms")
    if thumb_warm / thumb_cold > THUMB_TARGET:
        missed.append("thumbnails")
    loaded = [t for t in tensorflow if t]
    known = [t for t in tensorflow if t is not None]
    verdict = (f"TensorFlow mapped by {len(loaded)} of {len(tensorflow)} servers" if loaded
               else f"no TensorFlow in /proc/<pid>/maps of {len(known)} servers" if known
               else "TensorFlow not checked (no /proc)")
    print(f"  {verdict}")
    if loaded:
        missed.append("TensorFlow loaded")
    print(f"  targets (launch < {LAUNCH_TARGET:g} s, pages < {PAGE_TARGET:g} s cold and warm, "
          f"thumbnails warm <= {THUMB_TARGET:g}x cold, no TensorFlow): "
          + ("MISSED by " + ", ".join(missed) if missed else "met"))

    ok = "met" if launch < LAUNCH_TARGET else "NOT met"
    rows.emit(f"ml ui launch to first page, {opts.runs:,} runs, median of {launch_repeat}: "
              f"{launch:.2f} s (target < {LAUNCH_TARGET:g} s: {ok})", launch, listing, "s",
              higher_is_better=False, note=f"ml list, same runs, subprocess; {verdict}")
    for label, _, _, key in paths:
        cold, warm = timings[label]
        ok = "met" if max(cold, median(warm)) < PAGE_TARGET else "NOT met"
        rows.emit(f"ml ui GET {label}, warm median of {WARM}, cold {cold * 1000:.0f} ms "
                  f"(target < {PAGE_TARGET:g} s: {ok})", median(warm) * 1000,
                  baselines[key] * 1000, "ms", higher_is_better=False, note=notes[key])
    rows.emit(f"ml ui {thumbs} thumbnails of a gallery page, warm (cached) vs cold (made)",
              thumb_warm * 1000, thumb_cold * 1000, "ms", target=THUMB_TARGET,
              higher_is_better=False, note=f"cold; {IMAGE_SIZE}x{IMAGE_SIZE} JPEG files")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
