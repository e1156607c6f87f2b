"""The ``mnist`` source: IDX files, splits, labels, cache keys, corrupt files."""
import functools
import gzip

import numpy as np
import pytest
from PIL import Image

from tests.unit.test_data_helpers import Counter, make_env
from vergeml.data import load_dataset
from vergeml.data.data_section import parse_data_config
from vergeml.data.mnist import MnistSource
from vergeml.errors import ConfigError, VergeMLError

FASHION = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker",
           "bag", "ankle-boot"]


@functools.lru_cache(maxsize=1)
def digits():
    """scikit-learn's digits as MNIST-like 28x28 uint8 images, and their labels."""
    from sklearn.datasets import load_digits
    data = load_digits()
    pixels = [Image.fromarray((i * 16).clip(0, 255).astype(np.uint8)).resize((28, 28))
              for i in data.images[:200]]
    return np.stack([np.asarray(p) for p in pixels]), data.target[:200].astype(np.uint8)


def write_idx(path, array, gz=False):
    """Write an unsigned-byte IDX file (the MNIST format); return the path."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 8, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    with (gzip.open if gz else open)(path, "wb") as handle:
        handle.write(header + array.tobytes())
    return path


def mnist_project(root, train=150, test=50, gz=False):
    """``root/samples`` with the train pair and (``test`` > 0) the t10k pair."""
    images, labels = digits()
    ext = ".gz" if gz else ""
    samples = root / "samples"
    write_idx(samples / f"train-images-idx3-ubyte{ext}", images[:train], gz)
    write_idx(samples / f"train-labels-idx1-ubyte{ext}", labels[:train], gz)
    if test:
        write_idx(samples / f"t10k-images-idx3-ubyte{ext}", images[train:train + test], gz)
        write_idx(samples / f"t10k-labels-idx1-ubyte{ext}", labels[train:train + test], gz)
    return root


def load(root, input_=None, **settings):
    data = {"input": {"type": "mnist", **(input_ or {})}}
    return load_dataset(make_env(root, data=data, **settings), progress=False)


@pytest.mark.parametrize("gz", [False, True])
def test_t10k_is_the_test_split_and_train_is_split_by_val_split(tmp_path, gz):
    dataset = load(mnist_project(tmp_path, gz=gz), val_split="20", test_split="30%")
    assert dataset.split_sizes() == {"train": 130, "val": 20, "test": 50}
    assert dataset.labels == [str(d) for d in range(10)]
    test = dataset.samples("test")
    assert test[0].relpath == f"t10k-images-idx3-ubyte{'.gz' if gz else ''}/00000"
    images, labels = digits()
    assert [s.label for s in test] == [str(d) for d in labels[150:200]]
    array = dataset.load_array(test[3])
    assert array.shape == (28, 28, 3) and array.dtype == np.uint8
    assert (array == images[153][..., None]).all()   # gray, the same in every channel


def test_without_t10k_every_split_comes_from_train(tmp_path):
    dataset = load(mnist_project(tmp_path, test=0), val_split="10", test_split="15")
    assert dataset.split_sizes() == {"train": 125, "val": 10, "test": 15}


def test_split_is_stable_and_seeded(tmp_path):
    root = mnist_project(tmp_path)
    first = [s.relpath for s in load(root).samples("val")]
    assert first == [s.relpath for s in load(root).samples("val")]
    assert first != [s.relpath for s in load(root, random_seed=7).samples("val")]


def test_label_names_from_the_option_and_from_a_file(tmp_path):
    root = mnist_project(tmp_path)
    named = load(root, {"labels": FASHION})
    assert named.labels == sorted(FASHION)
    _, labels = digits()
    assert [s.label for s in named.samples("test")][:3] == [FASHION[i] for i in labels[150:153]]
    (root / "samples" / "classes.txt").write_text("\n".join(FASHION) + "\n")
    from_file = load(root, {"labels-file": "classes.txt"})
    assert [s.label for s in from_file.samples("test")] == [s.label for s in named.samples("test")]


def test_bad_label_settings(tmp_path):
    root = mnist_project(tmp_path)
    with pytest.raises(VergeMLError, match="label 9 has no name: the labels list has 3"):
        load(root, {"labels": ["a", "b", "c"]})
    with pytest.raises(ConfigError, match="not both"):
        parse_data_config({"input": {"type": "mnist", "labels": ["a"], "labels-file": "x"}})
    with pytest.raises(ConfigError, match="'a/b' cannot be a class name"):
        parse_data_config({"input": {"type": "mnist", "labels": ["a/b", "c"]}})
    with pytest.raises(ConfigError, match="duplicate class name"):
        parse_data_config({"input": {"type": "mnist", "labels": ["a", "a"]}})
    with pytest.raises(VergeMLError, match="cannot read labels-file"):
        load(root, {"labels-file": "missing.txt"})


def test_rerun_reuses_keys_and_cache_and_a_change_rebuilds_one_sample(tmp_path, monkeypatch):
    root = mnist_project(tmp_path)
    decodes = Counter(MnistSource.load)
    monkeypatch.setattr(MnistSource, "load", lambda self, sample: decodes(self, sample))

    def build():
        dataset = load(root, cache="disk-in", val_split="0", test_split="0")
        with dataset.open_cache() as cache:
            for split in ("train", "test"):
                for sample in dataset.samples(split):
                    dataset.load_array(sample, 32, cache=cache)
        return dataset, cache.stats("input:32:fill")

    first, stats = build()
    assert decodes.calls == 200 and stats["new"] == 200
    decodes.calls = 0
    second, stats = build()
    assert decodes.calls == 0 and stats == {"hit": 200, "new": 0, "stale": 0}
    assert second.fingerprint == first.fingerprint
    images, labels = digits()
    changed = images[:150].copy()
    changed[7] = 255 - changed[7]
    write_idx(root / "samples" / "train-images-idx3-ubyte", changed)
    third, stats = build()
    assert decodes.calls == 1 and stats["new"] == 1 and stats["hit"] == 199
    assert third.fingerprint != first.fingerprint


def test_duplicates_across_splits_are_reported(tmp_path, capsys):
    images, labels = digits()
    write_idx(tmp_path / "samples" / "train-images-idx3-ubyte", np.concatenate([images[:40]] * 2))
    write_idx(tmp_path / "samples" / "train-labels-idx1-ubyte", np.concatenate([labels[:40]] * 2))
    load(tmp_path, val_split="30%", test_split="0")
    warned = capsys.readouterr().err
    assert "exact duplicate image(s)" in warned


def test_a_sample_changed_while_running_is_an_error(tmp_path):
    dataset = load(mnist_project(tmp_path, test=0))
    sample = dataset.samples("train")[0]
    altered = type(sample)(**{**{f: getattr(sample, f) for f in sample.__slots__}, "digest": "0" * 64})
    with pytest.raises(VergeMLError, match="changed while running"):
        dataset.load_array(altered)


def corrupt(samples, name, data):
    (samples / name).write_bytes(data)


@pytest.mark.parametrize("name, damage, reason", [
    ("train-images-idx3-ubyte", lambda b: b[:-10], r"truncated: 117,606 bytes, expected 117,616"),
    ("train-images-idx3-ubyte", lambda b: b + b"xx", r"longer than its header says"),
    ("train-images-idx3-ubyte", lambda b: b"\x01" + b[1:], r"not an IDX file \(bad magic number\)"),
    ("train-images-idx3-ubyte", lambda b: b[:2] + b"\x0d" + b[3:], r"data type 0x0d is not unsigned"),
    ("train-labels-idx1-ubyte", lambda b: b[:3] + b"\x03" + b[4:], r"3 dimension\(s\), expected 1"),
    ("train-labels-idx1-ubyte", lambda b: b[:4] + (149).to_bytes(4, "big") + b[8:-1],
     r"149 labels for 150 images"),
    ("train-labels-idx1-ubyte", lambda b: b"", r"not an IDX file"),
])
def test_corrupt_files_name_the_file_and_the_reason(tmp_path, name, damage, reason):
    samples = mnist_project(tmp_path, test=0) / "samples"
    corrupt(samples, name, damage((samples / name).read_bytes()))
    with pytest.raises(VergeMLError, match=f"cannot read MNIST file .*{name}: {reason}"):
        load(tmp_path)


def test_corrupt_gzip_names_the_file(tmp_path):
    samples = mnist_project(tmp_path, gz=True) / "samples"
    packed = (samples / "t10k-images-idx3-ubyte.gz").read_bytes()
    corrupt(samples, "t10k-images-idx3-ubyte.gz", packed[:len(packed) // 2])
    with pytest.raises(VergeMLError, match="cannot read MNIST file .*t10k-images-idx3-ubyte.gz: "):
        load(tmp_path)


def test_missing_files(tmp_path):
    with pytest.raises(VergeMLError, match="samples directory not found"):
        load(tmp_path)
    (tmp_path / "samples").mkdir()
    with pytest.raises(VergeMLError, match="no MNIST files in .*train-images-idx3-ubyte"):
        load(tmp_path)
    samples = mnist_project(tmp_path) / "samples"
    (samples / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(VergeMLError, match="t10k-labels-idx\\*-ubyte is missing"):
        load(tmp_path)


def test_preprocess_writes_png_per_sample(tmp_path):
    from vergeml.commands.preprocess import PreprocessCommand
    root = mnist_project(tmp_path, train=30, test=10)
    env = make_env(root, data={"input": "mnist"}, val_split="0")
    PreprocessCommand().run({"split": "test", "num-samples": None, "directory": "pre"}, env)
    written = sorted((root / "pre" / "test").rglob("*.png"))
    assert len(written) == 10 and written[0].name.startswith("0")
    assert Image.open(written[0]).size == (28, 28)
