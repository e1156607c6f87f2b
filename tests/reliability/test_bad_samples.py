"""Bad sample folders (issue 16, "Bad input").

One project of 100 real digits plus every kind of bad sample: a truncated
JPEG, a JPEG header followed by garbage, a zero-byte file, text named
``.jpg``, a decompression bomb (a 20,000 x 20,000 PNG of 48 KB), folder
symlinks that loop back to ``samples/``, a file name that is not UTF-8 and a
class folder with one image. ``ml train`` and ``ml preprocess`` must name
every bad file in one line (exit 1) without decoding the bomb, and with
``--skip-bad-files`` use the rest.
"""
import io
import os
import re
import struct
import subprocess
import sys
import zlib

import pytest

from tests.conftest import ml_command, subprocess_env, MLResult
from tests.e2e.conftest import digits_subset, instance_names, read_metadata, train

pytestmark = pytest.mark.e2e

ARGS = ("--architecture=mobilenet", "--alpha=0.25", "--size=64", "--epochs=2",
        "--optimizer=adam", "--learning-rate=0.002", "--batch-size=32")
PER_CLASS = 10
GOOD = 10 * PER_CLASS + 1          # the digits and the one image of class "solo"
BOMB_SIDE = 20_000
# An ml that stops before TensorFlow uses ~100 MB; the bomb decoded would need
# 400 MB (mode L) and 1.2 GB as RGB.
MAX_RSS_KB = 300_000
# relpath as printed -> the reason the message must give (a regular expression).
BAD = {
    "1/truncated.jpg": r"truncated file",
    "2/garbage.jpg": r"(truncated file|not an image or unsupported format|broken data stream)",
    "3/empty.png": r"empty file \(0 bytes\)",
    "4/notes.jpg": r"not an image or unsupported format",
    "5/bomb.png": r"image too large \(400,000,000 pixels; the limit is 178,956,970 pixels\)",
    "7/\\xff\\xfe.png": r"file name is not valid UTF-8",
}
LOOPS = ("6/loop", "here")           # samples/6/loop -> .., samples/here -> .


def png_bomb(side=BOMB_SIDE):
    """A 1-bit ``side`` x ``side`` PNG written chunk by chunk (a few dozen KB,
    never held as pixels): all-black rows compress to almost nothing."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    packer = zlib.compressobj(9)
    row = b"\0" * (1 + (side + 7) // 8)            # filter byte + packed bits
    idat = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def noise_jpeg(seed=0):
    """A valid 64x64 JPEG of noise, as bytes."""
    import numpy as np
    from PIL import Image
    buf = io.BytesIO()
    pixels = np.random.default_rng(seed).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def add_bad_samples(samples):
    """Write every bad sample of :data:`BAD` and :data:`LOOPS`, and class ``solo``."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits
    jpeg = noise_jpeg()
    (samples / "1" / "truncated.jpg").write_bytes(jpeg[:len(jpeg) // 2])
    garbage = np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8).tobytes()
    (samples / "2" / "garbage.jpg").write_bytes(jpeg[:20] + garbage)   # SOI + JFIF header, then noise
    (samples / "3" / "empty.png").write_bytes(b"")
    (samples / "4" / "notes.jpg").write_text("not an image, just text\n")
    (samples / "5" / "bomb.png").write_bytes(png_bomb())
    os.symlink("..", samples / "6" / "loop")
    os.symlink(".", samples / "here")
    name = os.path.join(os.fsencode(samples / "7"), b"\xff\xfe.png")
    with open(name, "wb") as handle:
        handle.write((samples / "7" / "001.png").read_bytes())
    (samples / "solo").mkdir()
    last = load_digits().images[-1]                 # a digit none of the classes holds
    Image.fromarray((last * (255 / 16)).astype(np.uint8), "L").save(samples / "solo" / "only.png")


@pytest.fixture
def bad_project(tmp_path_factory):
    """A fresh project of 100 digits plus every bad sample (no cache yet)."""
    project = digits_subset(tmp_path_factory.mktemp("bad") / "digits", PER_CLASS)
    add_bad_samples(project / "samples")
    return project


def run_measured(*args, cwd, env, timeout=120):
    """Run ``ml *args`` in a fresh wrapper process; return ``(MLResult, peak RSS in KB)``
    of ``ml`` alone (the wrapper's ``RUSAGE_CHILDREN``)."""
    wrapper = ("import resource, subprocess, sys\n"
               "proc = subprocess.run(sys.argv[1:], capture_output=True)\n"
               "sys.stdout.buffer.write(proc.stdout); sys.stderr.buffer.write(proc.stderr)\n"
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
               "sys.exit(proc.returncode)\n")
    proc = subprocess.run([sys.executable, "-c", wrapper, *ml_command(), *map(str, args)], cwd=cwd,
                          env=subprocess_env(env), capture_output=True, text=True, timeout=timeout)
    stderr, _, rss = proc.stderr.rstrip("\n").rpartition("\n")
    return MLResult(proc.returncode, proc.stdout, stderr), int(rss)


def error_line(result):
    """The one ``Error:`` line of a failed run (exit 1, no traceback)."""
    assert result.returncode == 1, result.output[-3000:]
    assert "Traceback" not in result.output and "looks like a bug" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def assert_names_every_bad_file(line):
    """``line`` lists each bad file with its reason, and nothing else as bad."""
    assert f"{len(BAD)} unreadable image(s)" in line, line
    for relpath, reason in BAD.items():
        assert re.search(re.escape(relpath) + r": [^;]*" + reason, line), (relpath, line)
    assert "only.png" not in line and "001.png" not in line


def assert_warns_loops(stderr):
    for link in LOOPS:
        assert re.search(rf"^Warning: ignoring folder symlink {re.escape(link)}: .*loop", stderr, re.M), \
            (link, stderr)


# -- fast ------------------------------------------------------------------------

def test_train_names_every_bad_file_and_never_decodes_the_bomb(bad_project, ml_env):
    assert (bad_project / "samples/5/bomb.png").stat().st_size < 100_000
    result, rss = run_measured("train", *ARGS, cwd=bad_project, env=ml_env, timeout=60)
    line = error_line(result)
    assert_names_every_bad_file(line)
    assert "--skip-bad-files" in result.stderr
    assert "20000x20000" in line or "400,000,000 pixels" in line
    assert_warns_loops(result.stderr)
    assert rss < MAX_RSS_KB, f"peak RSS {rss} KB: the bomb was decoded?"
    assert instance_names(bad_project) == []
    # A second run reads the verdicts remembered by content: the same message.
    again, _ = run_measured("train", *ARGS, cwd=bad_project, env=ml_env, timeout=60)
    assert error_line(again) == line


def test_preprocess_names_them_and_with_skip_writes_only_the_good_images(bad_project, ml_env):
    result, _ = run_measured("preprocess", cwd=bad_project, env=ml_env)
    assert_names_every_bad_file(error_line(result))
    result, rss = run_measured("preprocess", "--skip-bad-files", cwd=bad_project, env=ml_env)
    assert result.returncode == 0, result.output[-3000:]
    assert rss < MAX_RSS_KB
    warning = next(line for line in result.stderr.splitlines() if "skipping" in line)
    assert_names_every_bad_file(warning.replace("skipping", "unreadable image(s) skipping"))
    assert_warns_loops(result.stderr)
    assert re.search(r"^Warning: no val samples for class\(es\) solo \(1 image", result.stderr, re.M)
    assert re.search(r"^Warning: no test samples for class\(es\) solo \(1 image", result.stderr, re.M)
    written = sorted(p.relative_to(bad_project / "pre") for p in (bad_project / "pre").rglob("*.png"))
    assert len(written) == GOOD, written
    assert {p.name for p in written}.isdisjoint({"truncated.png", "garbage.png", "empty.png",
                                                 "notes.png", "bomb.png"})
    assert [p for p in written if p.parent.name == "solo"] == [type(written[0])("train/solo/only.png")]


def test_a_class_folder_named_in_non_utf8_bytes_is_named_not_a_traceback(tmp_path, ml_env):
    project = digits_subset(tmp_path / "digits", 3)
    os.rename(project / "samples" / "9", os.path.join(os.fsencode(project / "samples"), b"\xffnine"))
    result, _ = run_measured("preprocess", cwd=project, env=ml_env)
    line = error_line(result)
    assert "3 unreadable image(s)" in line and "\\xffnine/001.png: file name is not valid UTF-8" in line
    result, _ = run_measured("preprocess", "--skip-bad-files", cwd=project, env=ml_env)
    assert error_line(result) == "Error: no readable images left in class folder(s): \\xffnine"


def test_decode_refuses_images_over_the_pixel_limit_before_decoding(monkeypatch):
    from PIL import Image
    from vergeml.data import images
    with pytest.raises(images.BadImageError,
                       match=r"400,000,000 pixels; the limit is 178,956,970 pixels\): a possible "
                             r"decompression bomb, not decoded"):
        images.decode_image(png_bomb(), "bomb.png")
    # The tool's one limit (images.MAX_PIXELS), checked from the header: over it is
    # refused before any pixel is decoded, at or under it loads without a warning.
    monkeypatch.setattr(images, "MAX_PIXELS", 2000)
    loads = []
    real_load = Image.Image.load
    monkeypatch.setattr(Image.Image, "load", lambda self: loads.append(self.size) or real_load(self))
    with pytest.raises(images.BadImageError, match=r"50x50, 2,500 pixels; the limit is 2,000 pixels"):
        images.decode_image(png_bomb(50), "big.png")
    assert loads == []                                  # refused before any pixel was decoded
    assert images.decode_image(png_bomb(40), "large.png").size == (40, 40)


# -- slow: trains ----------------------------------------------------------------

@pytest.mark.slow
def test_train_with_skip_bad_files_trains_on_the_rest(bad_project, ml_env):
    result, name = train(bad_project, ml_env, *ARGS, "--skip-bad-files", timeout=300)
    assert result.returncode == 0, result.output[-3000:]
    assert "Traceback" not in result.output
    warning = next(line for line in result.stderr.splitlines() if "skipping" in line)
    assert_names_every_bad_file(warning.replace("skipping", "unreadable image(s) skipping"))
    assert_warns_loops(result.stderr)
    assert "solo (1 image(s))" in result.stderr
    meta = read_metadata(bad_project, name)
    assert meta["status"] == "finished"
    assert sum(meta["data"][f"num_{s}"] for s in ("train", "val", "test")) == GOOD
    labels = (bad_project / "trainings" / name / "checkpoints" / "labels.txt").read_text().split()
    assert labels == sorted([str(d) for d in range(10)] + ["solo"])
    # Nothing bad reached the cache: a second run finds every good sample and nothing stale.
    again, _ = train(bad_project, ml_env, *ARGS, "--skip-bad-files", timeout=300)
    assert again.returncode == 0, again.output[-3000:]
    assert f"cache: {GOOD:,} hit, 0 new, 0 stale" in again.stdout
