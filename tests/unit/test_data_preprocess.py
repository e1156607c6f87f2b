"""``ml preprocess`` (the command object, in-process)."""
import numpy as np
import pytest
from PIL import Image

from tests.unit.test_data_helpers import image_project, make_env, write_image
from vergeml.commands.preprocess import PreprocessCommand
from vergeml.errors import VergeMLError

OPS = [{"op": "augment", "variants": 2}, {"op": "resize", "width": 8, "height": 6},
       {"op": "grayscale"}]


def run(env, **args):
    return PreprocessCommand().run({"split": "all", "num-samples": None, "directory": "pre", **args}, env)


def test_writes_every_split_by_label(tmp_path, capsys):
    project = image_project(tmp_path / "p", per_class=10)
    write_image(project / "samples" / "cat" / "sub" / "0.png", seed=99)   # same name, other folder
    write_image(project / "samples" / "dog" / "x.gif", fmt="GIF")
    write_image(project / "samples" / "dog" / "y.jpg")
    env = make_env(project, data={"preprocess": OPS}, val_split="2", test_split="2")
    assert run(env) == 0
    written = sorted(p.relative_to(project / "pre").as_posix() for p in (project / "pre").rglob("*.*"))
    sizes = {"train": 19 * 2, "val": 2, "test": 2}
    for split, count in sizes.items():
        assert sum(1 for w in written if w.startswith(split + "/")) == count
    assert all(w.split("/")[1] in ("cat", "dog") for w in written)
    assert not any(w.endswith(".gif") for w in written)            # palette formats become PNG
    assert any(w.endswith(".jpg") for w in written)                # other formats are kept
    img = Image.open(next((project / "pre" / "train").rglob("*.png")))
    arr = np.asarray(img)
    assert img.size == (8, 6) and arr.shape[-1] == 3 and (arr[..., 0] == arr[..., 1]).all()
    assert "Wrote 42 images" in capsys.readouterr().out
    assert not list((project / "pre").rglob("*.tmp*"))


def test_one_split_and_a_limit(tmp_path):
    project = image_project(tmp_path / "p", per_class=10)
    env = make_env(project, val_split="4", test_split="2")
    run(env, split="val", **{"num-samples": 3, "directory": "out"})
    assert [p.parent.parent.name for p in (project / "out").rglob("*.png")] == ["val"] * 3


def test_unlabeled_source(tmp_path):
    for i in range(6):
        write_image(tmp_path / "samples" / f"{i}.jpg", seed=i)
    run(make_env(tmp_path, data={"input": "image"}, val_split="0", test_split="0"), split="train")
    assert sorted(p.name for p in (tmp_path / "pre" / "train").iterdir()) == [f"{i}.jpg" for i in range(6)]


def test_no_samples_is_a_clear_error(tmp_path):
    with pytest.raises(VergeMLError, match="samples directory not found"):
        run(make_env(tmp_path))
