"""The four data sets of the ``ml doctor`` benchmarks, as folders of real image files.

Shared by ``bench_doctor_labels.py`` (label errors) and the duplicate benchmark.
Each set is written once into a folder of class folders (``<folder>/<label>/<file>``),
and its backbone features are extracted with the project's own
:class:`vergeml.models.imagenet.extraction.features.FeatureExtractor` (MobileNet
a0.25 at 224 px with the shared ImageNet weights, images fitted with ``fill``
as ``ml train`` does by default) and cached on disk beside the set, keyed by
each file's content digest: a re-run extracts nothing, and a file added later
(an injected duplicate) is the only one extracted.

The sets (``SETS``):

- ``hymenoptera``: all 398 images of ``../shared/data/hymenoptera`` (train and
  val; ants and bees; one is a GIF "image not found" placeholder, as in the
  original download), copied. Split: ``train/`` is ``train``, ``val/`` is ``test``.
- ``lfw``: scikit-image's ``lfw_subset`` (100 faces, 100 non-faces, 25x25 grey), PNG.
- ``photos``: ``photos.make_photos`` (crops of scikit-image's colour photographs
  filed by source photo; 9 classes), 450 JPEGs (225 with ``quick``).
- ``digits``: scikit-learn's 1,797 handwritten digits as ``ml download:digits``
  writes them, 8x8 PNG (600 with ``quick``).

Splits other than hymenoptera's are fixed by position within each class: every
7th image ``test``, the next ``val``, the rest ``train``.

API:

- :func:`make_set` ``(name, folder, quick=False) -> [(path, label)]``
- :func:`features_of` ``(paths, cache_folder) -> float32 (n, 256)``
- :func:`audit_data` ``(name, folder, quick=False) -> AuditData`` (both of the above)
- :func:`to_audit_data` ``(items, folder, splits=None) -> AuditData`` (any list of
  ``(path, label)`` under ``folder``, e.g. a set plus injected files)
- :func:`default_folder` ``(name, quick=False)``: where a set lives between runs.

TensorFlow is imported only when something has to be extracted.
"""
import io
import shutil
import tempfile
from pathlib import Path

import workspace

SETS = ("hymenoptera", "lfw", "photos", "digits")
COUNTS = {False: {"photos": 450, "digits": 1797}, True: {"photos": 225, "digits": 600}}
SIZE = 224
DONE = ".complete"          # written last into a set's folder: the set is whole
CACHE = ".features"         # the feature cache, inside the set's folder


def default_folder(name, quick=False):
    """Where set ``name`` is kept between runs: in ``$BENCH_SHARED`` under ``bench/run.sh``,
    else in the system's temp folder (kept, so a second run reuses set and features)."""
    base = workspace.shared_dir() or Path(tempfile.gettempdir()) / "vergeml-doctor-sets"
    smaller = quick and COUNTS[True].get(name) != COUNTS[False].get(name)
    return Path(base) / f"{name}{'-quick' if smaller else ''}"


def make_set(name, folder, quick=False):
    """Write set ``name`` into ``folder`` (unless it is already complete there).

    Args:
        name: one of :data:`SETS`.
        folder: the set's folder (created); class folders go directly under it.
        quick: the smaller version (``photos`` and ``digits`` only; see the module doc).

    Returns:
        ``[(Path, label)]`` of every image, sorted by path.
    """
    if name not in SETS:
        raise ValueError(f"unknown set {name!r}; choose from {', '.join(SETS)}")
    folder = Path(folder)
    if not (folder / DONE).is_file():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        _WRITERS[name](folder, COUNTS[quick].get(name))
        (folder / DONE).write_text(name)
    return list_set(folder)


def list_set(folder):
    """``[(Path, label)]`` of the images under ``folder/<label>/``, sorted by path."""
    folder = Path(folder)
    return sorted((path, path.parent.name) for path in folder.glob("*/*")
                  if path.is_file() and not path.parent.name.startswith("."))


def _hymenoptera(folder, _count):
    from vergeml.data.formats import is_image_file
    for source in sorted(p for p in workspace.HYMENOPTERA.glob("*/*/*") if is_image_file(p)):
        target = folder / source.parent.name / source.name
        target.parent.mkdir(exist_ok=True)
        shutil.copyfile(source, target)


def _lfw(folder, _count):
    from PIL import Image
    from skimage.data import lfw_subset
    for index, image in enumerate(lfw_subset()):
        target = folder / ("face" if index < 100 else "other")
        target.mkdir(exist_ok=True)
        Image.fromarray((image * 255).astype("uint8")).convert("RGB").save(target / f"{index:03d}.png")


def _photos(folder, count):
    from photos import make_photos
    make_photos(folder, count, seed=0)


def _digits(folder, count):
    from vergeml.downloads.digits import load_digits, to_png
    images, labels = load_digits()
    for index, (image, label) in enumerate(zip(images[:count], labels[:count])):
        target = folder / str(label)
        target.mkdir(exist_ok=True)
        (target / f"{index:04d}.png").write_bytes(to_png(image))


_WRITERS = {"hymenoptera": _hymenoptera, "lfw": _lfw, "photos": _photos, "digits": _digits}


def features_of(paths, cache_folder, digests=None):
    """Backbone features of image files, extracting only those not cached yet.

    Args:
        paths: image files.
        cache_folder: where ``features-<extractor key>-<pixel path>.npz`` is kept (created);
            rows are keyed by the files' content digests.
        digests: the files' sha256 digests when the caller has them (else computed).

    Returns:
        ``float32`` array ``(len(paths), 256)``, row per path.
    """
    import numpy as np

    from vergeml.data import images
    from vergeml.fileutil import atomic_write_bytes, file_sha256
    digests = list(digests) if digests is not None else [file_sha256(path) for path in paths]
    extractor = _extractor(cache_folder)
    # The pixel path in the name, as in ml's cache keys: features of another path are not reused.
    path_name = images.PIXEL_PATH.replace(",", "-")
    store = Path(cache_folder) / f"features-{extractor.key}-{path_name}.npz"
    known = {}
    if store.is_file():
        with np.load(store) as saved:
            known = dict(zip(saved["digests"].tolist(), saved["features"]))
    missing = list({d: p for d, p in zip(digests, paths) if d not in known}.items())
    if missing:
        for indices, batch in extractor.iter_features([p for _, p in missing], _pixels):
            known.update((missing[i][0], vector) for i, vector in zip(indices, batch))
        buffer = io.BytesIO()
        np.savez(buffer, digests=np.array(list(known)), features=np.stack(list(known.values())))
        atomic_write_bytes(store, buffer.getvalue())
    if not digests:
        return np.zeros((0, 256), "float32")
    return np.stack([known[d] for d in digests]).astype("float32")


def _extractor(cache_folder):
    """MobileNet a0.25 at 224 px with the shared weights (``$KERAS_HOME`` seeded)."""
    from vergeml.models.imagenet.extraction.features import FeatureExtractor
    Path(cache_folder).mkdir(parents=True, exist_ok=True)
    if not workspace.keras_home(cache_folder):
        raise SystemExit("the shared MobileNet weights are missing (../shared/weights)")
    return FeatureExtractor("mobilenet", alpha=0.25, size=SIZE)


def _pixels(path):
    """An image file as ``ml train`` feeds it to the backbone (its pixel path, ``fill`` to 224 px)."""
    from vergeml.data.processing import Processing
    return Processing().array(Path(path).read_bytes(), str(path), "test", 0, SIZE, "fill")


def audit_data(name, folder=None, quick=False):
    """Set ``name`` as the doctor analyses it: written if missing, features cached.

    Args:
        name: one of :data:`SETS`.
        folder: the set's folder (default :func:`default_folder`).
        quick: the smaller version.

    Returns:
        :class:`vergeml.doctor.audit_data.AuditData`; ``files`` relative to ``folder``.
    """
    folder = Path(folder or default_folder(name, quick))
    items = make_set(name, folder, quick)
    return to_audit_data(items, folder, _hymenoptera_splits(items) if name == "hymenoptera" else None)


def to_audit_data(items, folder, splits=None):
    """An :class:`AuditData` of any images under ``folder`` (features cached in ``folder/.features``).

    Args:
        items: ``[(path, label)]``, paths under ``folder``.
        folder: the set's folder.
        splits: ``train``/``val``/``test`` per item (default: by position within
            each class: every 7th ``test``, the next ``val``, the rest ``train``).

    Returns:
        :class:`vergeml.doctor.audit_data.AuditData`, labels indexed by sorted label name.
    """
    import numpy as np

    from vergeml.doctor.audit_data import AuditData
    from vergeml.fileutil import file_sha256
    folder = Path(folder)
    names = sorted({label for _, label in items})
    paths = [Path(path) for path, _ in items]
    digests = [file_sha256(path) for path in paths]
    return AuditData(files=[path.relative_to(folder).as_posix() for path in paths],
                     labels=np.array([names.index(label) for _, label in items], dtype=np.int64),
                     label_names=names, splits=list(splits or _position_splits(items)),
                     digests=digests, features=features_of(paths, folder / CACHE, digests),
                     paths=[str(p) for p in paths])


def _position_splits(items):
    seen, splits = {}, []
    for _, label in items:
        position = seen[label] = seen.get(label, -1) + 1
        splits.append({0: "test", 1: "val"}.get(position % 7, "train"))
    return splits


def _hymenoptera_splits(items):
    """``train/`` photos are ``train``, ``val/`` ones ``test`` (the benches' test split)."""
    val = {p.name for p in workspace.HYMENOPTERA.glob("val/*/*")}
    return ["test" if Path(path).name in val else "train" for path, _ in items]
