"""``ml preprocess``: write the samples after the preprocessing operations to a folder.

Output: ``<directory>/<split>/<label>/<file>`` (``<directory>/<split>/<file>``
for unlabeled sources). Training samples appear once per augmentation
variant. File names keep their extension; a clash (same name in nested
folders, or a variant) gets ``_1``, ``_2``, ... before the extension.
"""
import sys
from pathlib import Path

from tqdm import tqdm

from vergeml.command import Command
from vergeml.fileutil import atomic_path
from vergeml.options import Option

# Formats written as they came; anything else (gif: palette) becomes PNG.
_KEEP = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".bmp": "BMP", ".webp": "WEBP",
         ".tif": "TIFF", ".tiff": "TIFF"}


class PreprocessCommand(Command):
    name = "preprocess"
    description = "Apply the data.preprocess operations and write the resulting images to a folder."
    long_help = ("Runs the operations configured under data.preprocess in vergeml.yaml on the "
                 "samples and writes the images to <directory>/<split>/<label>/, so you can look "
                 "at what the model will see.")
    needs_project = True
    examples = ("ml preprocess", "ml preprocess --split=val -n 20 preview")
    options = (
        Option("split", default="all", choices=("train", "val", "test", "all"),
               help="Which split to write."),
        Option("num-samples", short="n", type="int", rule=">0", metavar="N",
               help="Write at most N samples per split (default: all)."),
        Option("directory", default="pre", positional=True, nargs="?", metavar="DIR",
               help="Output directory, relative to the project directory."),
    )

    def run(self, args, env):
        from vergeml.data import load_dataset
        dataset = load_dataset(env, skip_bad=env.settings.get("skip-bad-files", False))
        out = Path(env.project_dir, args.get("directory") or "pre")
        splits = ("train", "val", "test") if args.get("split", "all") == "all" else (args["split"],)
        chosen = {s: dataset.samples(s)[:args.get("num-samples") or None] for s in splits}
        total = sum(len(v) for v in chosen.values())
        written = {}
        with tqdm(total=total, desc="Preprocessing", unit="img", file=sys.stderr, disable=None) as bar:
            for split, samples in chosen.items():
                written[split] = _write_split(dataset, samples, out / split, bar)
        counts = ", ".join(f"{n:,} {s}" for s, n in written.items())
        print(f"Wrote {total:,} images to {out} ({counts}).")
        return 0


def _write_split(dataset, samples, folder, bar):
    used = set()
    for sample in samples:
        target = _unique(folder / (sample.label or ""), Path(sample.relpath).name, used)
        img = dataset.load_image(sample)
        with atomic_path(target) as tmp:
            save_kwargs = {"quality": 95} if _KEEP.get(target.suffix.lower()) == "JPEG" else {}
            img.save(tmp, format=_KEEP[target.suffix.lower()], **save_kwargs)
        bar.update(1)
    return len(samples)


def _unique(folder, name, used):
    """A file name not yet written in this run (``x.jpg``, ``x_1.jpg``, ...)."""
    path = Path(name)
    suffix = path.suffix if path.suffix.lower() in _KEEP else ".png"
    stem, number = path.stem, 0
    candidate = folder / f"{stem}{suffix}"
    while candidate in used:
        number += 1
        candidate = folder / f"{stem}_{number}{suffix}"
    used.add(candidate)
    return candidate
