"""End-to-end: `ml train` with too few images for a validation split stops with a
one-line error; with --val-split=0 it trains, keeps the last epoch and `ml list` says so."""
import numpy as np
import pytest
from PIL import Image

from tests.e2e.conftest import instance_names, read_metadata

pytestmark = pytest.mark.e2e

FAST = ("--weights=none", "--architecture=mobilenet", "--alpha=0.25", "--size=32",
        "--batch-size=4")
ENV = {"TF_NUM_INTEROP_THREADS": "2"}


def write_images(project, per_class):
    rng = np.random.default_rng(0)
    for label, colour in (("cat", 40), ("dog", 210)):
        folder = project / "samples" / label
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = np.clip(colour + rng.normal(0, 20, (24, 24, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"{i}.png")


def test_too_few_images_for_validation_is_a_one_line_error(project, run_ml):
    write_images(project, per_class=2)      # 10 % of 2 images rounds to 0
    result = run_ml("train", *FAST, "--epochs=1", cwd=project, env=ENV)
    assert result.returncode == 1, result.output[-3000:]
    assert result.stderr.strip().splitlines() == [
        "Error: the validation split is empty: too few images per class for val-split 10%; "
        "set --val-split to a count such as --val-split=2 or add more images "
        "(--val-split=0 trains without validation and keeps the last epoch)"]
    assert instance_names(project) == []


@pytest.mark.slow
def test_val_split_zero_trains_keeps_the_last_epoch_and_list_says_so(project, run_ml):
    write_images(project, per_class=4)
    result = run_ml("train", *FAST, "--epochs=2", "--val-split=0", cwd=project, env=ENV,
                    timeout=600)
    assert result.returncode == 0, result.output[-3000:]
    assert "Traceback" not in result.output
    [name] = instance_names(project)
    meta = read_metadata(project, name)
    assert meta["data"]["num_val"] == 0
    results = meta["results"]
    assert results["epochs_done"] == 2 and results["best_epoch"] == 2
    assert results["selection"] == "last-epoch (no validation split)"
    listing = run_ml("list", cwd=project, env=ENV)
    assert listing.returncode == 0, listing.output
    header, row = listing.stdout.splitlines()[0], listing.stdout.splitlines()[-1]
    assert "selection" in header
    assert name in row and "last-epoch (no validation split)" in row
