"""Exported models and the runtimes that run them (``ml @name export``, ``predict --export``).

Pure data and small helpers: this module imports no TensorFlow, Keras or
NumPy at module level (``ml help`` reads :data:`FORMATS`). Each runtime is
imported only inside :func:`load_runtime`, so predicting through ``onnx`` or
``tflite`` never imports TensorFlow.

An export folder ``trainings/<name>/export/<format>/`` holds the model file
(or the SavedModel folder) named by :data:`FORMATS`, ``labels.txt`` and
``metadata.json``. Its model takes a batch of RGB images, ``n x size x size x
3`` uint8 (0-255), and returns the class probabilities ``n x classes``; the
backbone's preprocessing is inside the graph.
"""
import json
import os
from dataclasses import dataclass

from vergeml.errors import UsageError, VergeMLError
from vergeml.runtimes import extras



@dataclass(frozen=True)
class ExportFormat:
    """One export format.

    Args:
        name: the ``--format`` value and the folder name under ``export/``.
        artifact: the model file (or folder) inside the export folder.
        modules: the modules the format needs beyond the base install
            (the ``export`` extra), to write or to run it.
    """

    name: str
    artifact: str
    modules: tuple = ()


FORMATS = {
    "savedmodel": ExportFormat("savedmodel", "saved_model"),
    "tflite": ExportFormat("tflite", "model.tflite", ("ai_edge_litert",)),
    "onnx": ExportFormat("onnx", "model.onnx", ("onnxruntime", "tf2onnx", "onnx")),
    "keras": ExportFormat("keras", "model.keras"),
    # Run in f32 (INFERENCE_PRECISION_HINT): the CPU's default bf16 moves MobileNet ~20%.
    "openvino": ExportFormat("openvino", "model.xml", ("openvino",)),
}
# The self-check's one rule, for every format: each probability within TOLERANCE of
# the Keras model's, and the same top-1 class on every image (the hard check). float32
# runtimes sum in other orders; the difference peaks at probabilities near 0.5 (it goes
# with p(1-p)) and measured up to 9e-6 on four MobileNet digit models (every format,
# 240 images) and 1.5e-5 on others (issue 30): 5e-5 leaves a margin of three.
TOLERANCE = 5e-5
SCORE_TOLERANCE = 1e-3  # of the unknown score (a cosine distance; thresholds are ~0.3)
DEFAULT_FORMAT = "savedmodel"
# The modules needed only to run an export (predict), not to write one.
RUN_MODULES = {"tflite": ("ai_edge_litert",), "onnx": ("onnxruntime",), "openvino": ("openvino",)}
# Formats whose modules come with their own extra rather than ``export``.
OWN_EXTRA = {"openvino": "openvino"}


def parse_formats(value):
    """The formats asked for by ``--format`` (a comma list or a list), in order, once each.

    Raises:
        UsageError: an unknown or empty format.
    """
    items = value.split(",") if isinstance(value, str) else list(value or ())
    names = []
    for item in (str(i).strip().lower() for i in items):
        if not item:
            continue
        if item not in FORMATS:
            raise UsageError(f"--format: unknown export format '{item}'",
                             hint="choose from " + ", ".join(FORMATS))
        if item not in names:
            names.append(item)
    if not names:
        raise UsageError("--format: no export format given", hint="choose from " + ", ".join(FORMATS))
    return names


def require_extra(fmt, action="export to", modules=None, find_spec=None):
    """Raise a one-line error when the ``export`` extra a format needs is not installed.

    Args:
        fmt: a format name.
        action: how the message begins: ``export to`` or ``predict with``.
        modules: the modules to look for (default: every module of the format).
    """
    needed = FORMATS[fmt].modules if modules is None else modules
    extras.require(OWN_EXTRA.get(fmt, "export"), f"{action} {fmt}", needed, find_spec)


def resolve_export(instance_dir, value):
    """The export folder and format named by ``predict --export``.

    Args:
        instance_dir: the instance folder.
        value: a format name (``onnx``), ``export/<format>`` relative to the
            instance folder, or the path of an export folder.

    Returns:
        ``(folder, format name)``.

    Raises:
        VergeMLError: no export there, or an unreadable ``metadata.json``.
    """
    text = str(value).strip().rstrip("/\\")
    if text.lower() in FORMATS:
        folder = os.path.join(instance_dir, "export", text.lower())
    elif os.path.isabs(text):
        folder = text
    else:  # relative to the instance folder first (export/onnx), else to the current folder
        inside = os.path.join(instance_dir, text)
        folder = inside if os.path.isdir(inside) or not os.path.isdir(text) else text
    meta = read_metadata(folder)
    fmt = meta.get("format")
    if fmt not in FORMATS:
        raise VergeMLError(f"{folder}: metadata.json names no known format ({fmt!r})")
    return folder, fmt


def read_metadata(folder):
    """The ``metadata.json`` of an export folder."""
    path = os.path.join(folder, "metadata.json")
    if not os.path.isfile(path):
        raise VergeMLError(f"no export found in {folder} (metadata.json is missing)",
                           hint="write one with 'ml @name export --format=...'")
    try:
        with open(path, encoding="utf-8") as handle:
            meta = json.load(handle)
    except (OSError, ValueError) as err:
        raise VergeMLError(f"cannot read {path}: {err}") from None
    if not isinstance(meta, dict):
        raise VergeMLError(f"cannot read {path}: not a JSON object")
    return meta


def read_labels(folder):
    """The ``labels.txt`` of an export folder, one label a line."""
    path = os.path.join(folder, "labels.txt")
    try:
        with open(path, encoding="utf-8") as handle:
            labels = [line.rstrip("\n") for line in handle if line.strip()]
    except OSError as err:
        raise VergeMLError(f"cannot read {path}: {err.strerror or err}") from None
    if not labels:
        raise VergeMLError(f"no labels in {path}")
    return labels


def metadata(fmt, labels, size, resize, architecture, variant, version, test_acc, check,
             reject_threshold=None):
    """The content of ``metadata.json`` (a dict). With ``reject_threshold`` the model's output
    has one more column, the unknown score, and an image scoring over the threshold is unknown."""
    output = {"shape": [None, len(labels)], "meaning": "class probabilities"}
    if reject_threshold is not None:
        output = {"shape": [None, len(labels) + 1],
                  "meaning": "class probabilities, then the unknown score "
                             "(over reject_threshold: unlike every class)"}
    return {"format": fmt, "file": FORMATS[fmt].artifact, "labels": list(labels),
            "input": {"shape": [None, size, size, 3], "dtype": "uint8", "range": [0, 255],
                      "channels": "RGB"},
            "output": output, "size": size, "resize": resize, "architecture": architecture,
            "variant": variant, "ml_version": version, "test_acc": test_acc, "check": check,
            **({"reject_threshold": reject_threshold} if reject_threshold is not None else {})}


def compare(reference, got, tolerance=TOLERANCE, classes=None):
    """Compare exported probabilities with the Keras model's.

    The top-1 label must be the same on every image. An image where the Keras
    model's own two best classes are closer than ``tolerance`` is a tie: the
    export may pick either of the tied classes (counted in ``ties``).

    Args:
        reference, got: ``n x classes`` arrays (anything NumPy accepts), or
            ``n x (classes + 1)`` with the unknown score last.
        tolerance: the largest accepted absolute difference (:data:`TOLERANCE`).
        classes: how many of the columns are class probabilities (None: all).

    Returns:
        ``{"images", "max_abs_diff", "top1_mismatches", "ties", "tolerance", "passed"}``
        (and ``problem`` when the shapes differ).
    """
    import numpy as np
    ref = np.asarray(reference, dtype=np.float64)
    out = np.asarray(got, dtype=np.float64)
    count = int(ref.shape[0]) if ref.ndim else 0
    if ref.shape != out.shape or ref.ndim != 2:
        return {"images": count, "max_abs_diff": float("inf"), "top1_mismatches": count,
                "ties": 0, "tolerance": tolerance, "passed": False,
                "problem": f"output shape {out.shape}, expected {ref.shape}"}
    if not np.isfinite(out).all():
        out = np.where(np.isfinite(out), out, np.inf)
    result = _compare_probabilities(ref[:, :classes], out[:, :classes], tolerance)
    if classes is not None and ref.shape[1] > classes:
        # The unknown score is a cosine distance of the features themselves, which a
        # runtime's own kernels move by up to ~1e-4 where the softmax hides it.
        score_diff = float(np.abs(ref[:, classes:] - out[:, classes:]).max()) if count else 0.0
        result.update(score_max_abs_diff=score_diff, score_tolerance=SCORE_TOLERANCE,
                      passed=result["passed"] and score_diff <= SCORE_TOLERANCE)
    return result


def _compare_probabilities(ref, out, tolerance):
    import numpy as np
    count = len(ref)
    diff = float(np.abs(ref - out).max()) if ref.size else 0.0
    rows = np.arange(count)
    want, pick = ref.argmax(axis=1), out.argmax(axis=1)
    differ = want != pick
    tied = differ & (ref[rows, want] - ref[rows, pick] <= tolerance)
    mismatches = int((differ & ~tied).sum())
    return {"images": count, "max_abs_diff": diff, "top1_mismatches": mismatches,
            "ties": int(tied.sum()), "tolerance": tolerance,
            "passed": mismatches == 0 and diff <= tolerance}


def load_runtime(folder, fmt, threads=None):
    """A callable ``run(batch) -> probabilities`` for an export, through its own runtime.

    ``batch`` is an ``n x size x size x 3`` uint8 array. onnx and tflite
    import no TensorFlow; savedmodel and keras do.
    """
    path = os.path.join(folder, FORMATS[fmt].artifact)
    if not os.path.exists(path):
        raise VergeMLError(f"export file missing: {path}")
    require_extra(fmt, "predict with", RUN_MODULES.get(fmt, ()))
    import importlib
    loader = getattr(importlib.import_module(_LOADERS[fmt]), f"load_{fmt}")
    try:
        return loader(path, threads)
    except VergeMLError:
        raise
    except Exception as err:  # noqa: BLE001 - a damaged export is a user-level failure
        raise VergeMLError(f"cannot load {path}: {_first_line(err)}") from None


# Each format's loader, in the module of its runtime (imported only when used).
_LOADERS = {"onnx": "vergeml.runtimes.onnx_runtime", "tflite": "vergeml.runtimes.tflite_runtime",
            "savedmodel": "vergeml.runtimes.tensorflow_setup", "keras": "vergeml.runtimes.tensorflow_setup",
            "openvino": "vergeml.runtimes.openvino_runtime"}


def _first_line(err):
    text = str(err) or type(err).__name__
    return text.strip().splitlines()[0] if text.strip() else type(err).__name__
