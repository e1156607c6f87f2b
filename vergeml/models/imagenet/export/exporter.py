"""``ml @name export``: write a self-contained deployable model, and check it.

The instance's ``checkpoints/model.keras`` takes preprocessed float32 images.
The export wraps it: ``uint8 RGB images -> float32 -> the backbone's
preprocess_input -> model`` (called with ``training=False``), so the exported
file takes raw pixels and returns the class probabilities. No augmentation
layer is ever exported (:func:`check_no_augmentation`).

Each format is written into a temporary folder beside its final place
(``trainings/<name>/export/.<format>.<random>``), reloaded with its own runtime
(:func:`vergeml.runtimes.export_formats.load_runtime`), run on the instance's test images and
compared with the Keras model. Only an export that passed replaces
``export/<format>/``; a failed one is removed and the command exits 1.
"""
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

from vergeml import faults
from vergeml.runtimes import export_formats as runtimes
from vergeml.errors import VergeMLError
from vergeml.fileutil import atomic_write_text
from vergeml.models.imagenet.image_decoder import ImageDecoder
from vergeml.models.imagenet.instance_model import (input_size, load_model, operations, preprocess_function,
                                                    read_labels)
from vergeml.models.imagenet.extraction.features import uint8_input
from vergeml.models.imagenet.rejection import load_ood, scored_model, stored_threshold

MAX_CHECK_IMAGES = 64
# Keras layers that change their input at random: never part of an export.
AUGMENTATION_CLASSES = frozenset({"RandAugment", "AugMix", "MixUp", "CutMix", "RandomApply",
                                  "RandomChoice", "Solarization"})


def is_augmentation(class_name):
    """Whether a Keras layer class name is a random augmentation layer."""
    return class_name.startswith("Random") or class_name in AUGMENTATION_CLASSES


def check_no_augmentation(layer_names):
    """Raise when any of the (nested) layer class names is an augmentation layer."""
    found = sorted({name for name in layer_names if is_augmentation(name)})
    if found:
        raise VergeMLError("the model contains augmentation layers (" + ", ".join(found) +
                           "); they are never exported")


def export(args, env):
    """Run ``ml @name export``: every requested format, each checked; 0, or 1 on a failed check."""
    instance = env.instance()
    formats = runtimes.parse_formats(args.get("format") or runtimes.DEFAULT_FORMAT)
    for fmt in formats:  # a missing extra is said before anything is loaded
        runtimes.require_extra(fmt)
    job = _Job(instance, env)
    note = tta_note(instance)
    if note:
        print(note)
    failures = [fmt for fmt in formats if not job.export(fmt)]
    if failures:
        raise VergeMLError("export check failed for " + ", ".join(failures) +
                           "; the failed export was removed")
    return 0


def tta_note(instance):
    """The one line ``ml @name export`` prints for an instance trained with ``--tta``, or None.

    The export is the plain model: one forward pass per image, as a deployed
    model is expected to be. The views are averaged outside the model, by
    ``ml @name predict`` (with or without ``--export``) and the REST service.
    """
    from vergeml.models.imagenet.tta import VIEWS, trained_with_tta
    if not trained_with_tta(instance.hyperparameters):
        return None
    return (f"note: @{instance.name} was tested with --tta; the exported model predicts without it "
            f"(one view; ml @{instance.name} predict --export averages the {len(VIEWS)} views)")


class _Job:
    """What every format of one ``ml @name export`` shares: model, wrapper, check images."""

    def __init__(self, instance, env):
        from vergeml.runtimes import tensorflow_setup as backend
        self.tf, self.keras = backend.load(env.settings)
        self.instance = instance
        self.hyper = dict(instance.hyperparameters or {})
        self.labels = read_labels(instance)
        self.model = load_model(instance, env.settings)
        check_no_augmentation(_layer_class_names(self.model))
        self.size = input_size(self.model, self.hyper)
        # With unknown rejection the export computes the score too (one more column).
        self.threshold = stored_threshold(instance)
        if self.threshold is not None:
            self.model = scored_model(self.model, load_ood(instance))
        self.resize = self.hyper.get("resize") or "fill"
        self.preprocess = preprocess_function(self.hyper)
        self.images, self.source = check_images(
            instance, env.samples_dir, ImageDecoder(operations(instance), self.size, self.resize))
        print(f"Checking each export on {len(self.images)} {self.source}.")
        self.reference = self._reference(self.images)
        # The deployable model: uint8 RGB images in, class probabilities out.
        self.wrapped = uint8_input(self.keras, self.model, self.preprocess, self.size,
                                   name="vergeml_export")
        self.folder = Path(instance.path) / "export"

    def _reference(self, images):
        import numpy as np
        batch = self.preprocess(np.array(images, dtype=np.float32, copy=True))
        return np.asarray(self.model.predict(batch, batch_size=32, verbose=0))

    def export(self, fmt):
        """Write, check and install one format; True when it passed."""
        self.folder.mkdir(parents=True, exist_ok=True)
        clean_leftovers(self.folder)
        # The pid in the name tells a later export whose folder this is (see clean_leftovers).
        tmp = Path(tempfile.mkdtemp(prefix=f".{fmt}.{os.getpid()}.", dir=self.folder))
        try:
            os.chmod(tmp, 0o777 & ~_umask())
            started = time.monotonic()
            write_format(fmt, self.wrapped, tmp / runtimes.FORMATS[fmt].artifact, self.size)
            written = time.monotonic() - started
            faults.point("export.written", fmt)
            runtimes_report = self.check(fmt, tmp)
            report = {**runtimes_report, "export_seconds": round(written, 2),
                      "size_bytes": disk_size(tmp / runtimes.FORMATS[fmt].artifact)}
            print(describe(fmt, report))
            if not report["passed"]:
                shutil.rmtree(tmp, ignore_errors=True)
                return False
            self.write_sidecars(fmt, tmp, report)
            final = install(tmp, self.folder / fmt)
            print(f"  saved in {final}")
            return True
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def check(self, fmt, folder):
        """Reload the export with its runtime, run the check images, compare with Keras."""
        started = time.monotonic()
        try:
            run = runtimes.load_runtime(str(folder), fmt)
            got = run(self.images)
        except VergeMLError as err:
            result = {"images": len(self.images), "max_abs_diff": float("inf"),
                      "top1_mismatches": len(self.images), "ties": 0,
                      "tolerance": runtimes.TOLERANCE, "passed": False,
                      "problem": err.message if hasattr(err, "message") else str(err)}
        else:
            result = runtimes.compare(self.reference, got, classes=len(self.labels))
        result["check_seconds"] = round(time.monotonic() - started, 2)
        result["source"] = self.source
        return result

    def write_sidecars(self, fmt, folder, report):
        """``labels.txt`` and ``metadata.json`` beside the model file."""
        import json

        import vergeml
        atomic_write_text(folder / "labels.txt", "\n".join(self.labels) + "\n")
        check = {k: report[k] for k in ("images", "source", "max_abs_diff", "top1_mismatches",
                                        "ties", "tolerance", "score_max_abs_diff",
                                        "score_tolerance") if k in report}
        meta = runtimes.metadata(fmt, self.labels, self.size, self.resize,
                                 self.hyper.get("architecture"), self.hyper.get("variant"),
                                 vergeml.__version__, (self.instance.results or {}).get("test_acc"),
                                 check, self.threshold)
        atomic_write_text(folder / "metadata.json", json.dumps(meta, indent=2) + "\n")


def write_format(fmt, wrapped, path, size):
    """Write the wrapped model as ``fmt`` at ``path`` (a file, or a folder for savedmodel)."""
    import keras
    sig = [keras.InputSpec(shape=(None, size, size, 3), dtype="uint8")]
    with warnings.catch_warnings(), _quiet_stdout():
        warnings.simplefilter("ignore")
        if fmt == "keras":
            wrapped.save(str(path))
        elif fmt == "savedmodel":
            wrapped.export(str(path), format="tf_saved_model", input_signature=sig, verbose=False)
        elif fmt == "onnx":
            wrapped.export(str(path), format="onnx", input_signature=sig, verbose=False)
        elif fmt == "tflite":
            wrapped.export(str(path), format="litert", input_signature=sig, verbose=False)
        elif fmt == "openvino":  # traced tf.function -> convert_model -> uncompressed IR
            from vergeml.models.imagenet.extraction.openvino_features import convert_keras
            convert_keras(wrapped, str(path), size, "uint8")
        else:  # parse_formats rejects it first
            raise VergeMLError(f"unknown export format {fmt}")


def check_images(instance, samples_dir, decoder):
    """The images every export is checked on, as ``n x size x size x 3`` uint8.

    The instance's test images (``stats/test_predictions.npz`` ``files``,
    relative to the samples folder), at most :data:`MAX_CHECK_IMAGES`;
    without them, deterministic synthetic images.

    Returns:
        ``(images, description)``.
    """
    import numpy as np
    files = _test_files(instance)
    arrays = []
    for rel in files:
        path = os.path.join(str(samples_dir), rel)
        if len(arrays) >= MAX_CHECK_IMAGES:
            break
        if not os.path.isfile(path):
            continue
        try:
            arrays.append(decoder.decode(decoder.open_path(path)))
        except Exception:  # noqa: BLE001 - an unreadable test image is skipped, not the export
            continue
    if arrays:
        return np.stack(arrays).astype(np.uint8), "test images of the instance"
    return synthetic_images(MAX_CHECK_IMAGES, decoder.size), \
        "synthetic images (the instance's test images are not in the samples folder)"


def synthetic_images(count, size, seed=0):
    """Deterministic smooth colour images (gradients plus noise), ``count x size x size x 3`` uint8."""
    import numpy as np
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0.0, 1.0, size, dtype=np.float32)
    images = np.empty((count, size, size, 3), dtype=np.float32)
    for i in range(count):
        base = rng.uniform(0, 255, 3).astype(np.float32)
        slope = rng.uniform(-128, 128, (2, 3)).astype(np.float32)
        images[i] = base + ramp[:, None, None] * slope[0] + ramp[None, :, None] * slope[1]
    images += rng.normal(0, 12, images.shape).astype(np.float32)
    return np.clip(images, 0, 255).astype(np.uint8)


def _test_files(instance):
    import numpy as np
    path = Path(instance.predictions_path)
    if not path.is_file():
        return []
    try:
        with np.load(path, allow_pickle=False) as data:
            return [str(f) for f in data["files"]] if "files" in data.files else []
    except Exception:  # noqa: BLE001 - a damaged file: check on synthetic images
        return []


def install(tmp, final):
    """Move a checked export from ``tmp`` to ``final``, replacing an older export there.

    ``os.replace`` cannot replace a non-empty folder: the old export is
    first renamed aside, then deleted, so ``final`` holds either the old
    complete export or the new complete one (or, for an instant, nothing).
    """
    final = Path(final)
    old = None
    if final.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old.{os.getpid()}.", dir=final.parent))
        os.replace(final, old / final.name)
        faults.point("export.install", final.name)  # the old export aside, the new not in place
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return final


def clean_leftovers(folder):
    """Undo what a killed export left in ``export/``.

    A process killed while exporting leaves its temporary folder
    (``.<format>.<pid>.<random>``); one killed inside :func:`install` leaves
    the old export set aside (``.<format>.old.<pid>.<random>/<format>``) and
    its place empty. Folders of processes still running are left alone.

    Args:
        folder: an instance's ``export/`` folder.
    """
    for entry in sorted(Path(folder).glob(".*")):
        parts = entry.name[1:].split(".")
        aside = len(parts) == 4 and parts[1] == "old"
        pid = parts[2] if aside else parts[1] if len(parts) == 3 else ""
        if not entry.is_dir() or not pid.isdigit() or _pid_alive(int(pid)):
            continue
        place = Path(folder) / parts[0]
        if aside and (entry / parts[0]).is_dir() and not place.exists():
            os.replace(entry / parts[0], place)  # the complete old export, back in its place
        shutil.rmtree(entry, ignore_errors=True)


def _pid_alive(pid):
    """Whether a process ``pid`` exists (another user's counts: it is not ours to clean)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def describe(fmt, report):
    """One line of figures for a checked export."""
    status = "ok" if report["passed"] else "FAILED"
    same = report["images"] - report["top1_mismatches"]
    text = (f"{fmt}: {status}: max abs diff {report['max_abs_diff']:.2e} (tolerance "
            f"{report['tolerance']:g}), same top-1 on {same} of {report['images']} images")
    if report.get("ties"):
        text += f" ({report['ties']} ties within tolerance)"
    if "score_max_abs_diff" in report:
        text += (f", unknown score max abs diff {report['score_max_abs_diff']:.2e} (tolerance "
                 f"{report['score_tolerance']:g})")
    text += (f", {format_size(report['size_bytes'])}, written in {report['export_seconds']:.1f}s,"
             f" checked in {report['check_seconds']:.1f}s")
    if report.get("problem"):
        text += f"; {report['problem']}"
    return text


def format_size(size):
    """Bytes as ``1.2 MB``."""
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000.0
    return f"{size:.1f} GB"


def disk_size(path):
    """Bytes of a file, or of every file under a folder."""
    path = Path(path)
    if path.is_file() and path.suffix == ".xml" and path.with_suffix(".bin").is_file():
        return path.stat().st_size + path.with_suffix(".bin").stat().st_size  # OpenVINO IR
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else 0


def _layer_class_names(model):
    """Class names of every layer, nested models included."""
    names, stack = [], [model]
    while stack:
        layer = stack.pop()
        names.append(type(layer).__name__)
        stack.extend(getattr(layer, "layers", None) or ())
    return names


class _quiet_stdout:
    """Send stdout to stderr while converters print their progress (stdout stays the report)."""

    def __enter__(self):
        self._saved = sys.stdout
        sys.stdout = sys.stderr

    def __exit__(self, *exc):
        sys.stdout = self._saved
        return False


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask
