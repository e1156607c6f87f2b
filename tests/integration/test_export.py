"""``ml @name export`` in-process on a really trained instance: every format reloaded
with its own runtime and compared with the Keras model; corrupted and mismatching
exports are removed; a missing extra is one line."""
import json
import shutil
import time

import numpy as np
import pytest

from tests.export_helpers import read_meta, trained_project
from vergeml.runtimes import export_formats as runtimes
from vergeml.runtimes import extras
from vergeml.models.imagenet.export import exporter as export_module
from vergeml.models.imagenet.image_decoder import ImageDecoder
from vergeml.models.imagenet.instance_model import operations

ALL = ("savedmodel", "tflite", "onnx", "keras")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, _keras_home_dir):
    env = {"KERAS_HOME": str(_keras_home_dir), "TF_NUM_INTEROP_THREADS": "2"}
    return trained_project(tmp_path_factory.mktemp("export-int"), env)


@pytest.fixture
def project(trained, tmp_path, keras_home, monkeypatch):
    """A private copy of the trained project, as the current folder: (folder, name)."""
    source, name = trained
    copy = tmp_path / "proj"
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("export"))
    monkeypatch.chdir(copy)
    return copy, name


def _keras_reference(folder, name, images):
    """What the Keras predictor computes on uint8 images (model.keras, preprocessed as predict
    does): the class probabilities, then the unknown score."""
    from vergeml.instances import load_instance
    from vergeml.models.imagenet.predictor import Predictor
    return Predictor(load_instance(folder / "trainings", name)).predict_arrays(images)


def _check_images(folder, name):
    from vergeml.instances import load_instance
    instance = load_instance(folder / "trainings", name)
    decoder = ImageDecoder(operations(instance), 96, "fill")
    images, source = export_module.check_images(instance, folder / "samples", decoder)
    return images, source


def test_every_format_exports_reloads_and_matches_keras(project, call_ml, capsys):
    folder, name = project
    result = call_ml(f"@{name}", "export", "--format=" + ",".join(ALL))
    assert result.returncode == 0, result.output
    assert "64 test images" in result.stdout or "test images of the instance" in result.stdout
    images, source = _check_images(folder, name)
    assert source == "test images of the instance" and len(images) > 8
    # Noise is no digit: the unknown decisions must agree on known and unknown images.
    noise = np.random.default_rng(0).integers(0, 256, (6, 96, 96, 3), dtype=np.uint8)
    images = np.concatenate([np.asarray(images, np.uint8), noise])
    reference = _keras_reference(folder, name, images)
    threshold = read_meta(folder, name, ALL[0])["reject_threshold"]
    unknown = reference[:, 3] > threshold
    assert unknown[-6:].all() and unknown[:-6].mean() < 0.2, reference[:, 3]
    table = []
    for fmt in ALL:
        out = folder / "trainings" / name / "export" / fmt
        meta = read_meta(folder, name, fmt)
        assert meta["format"] == fmt and meta["size"] == 96 and meta["architecture"] == "mobilenet"
        assert meta["labels"] == ["0", "1", "7"] and meta["resize"] == "fill"
        assert meta["input"]["dtype"] == "uint8" and "test_acc" in meta and meta["ml_version"]
        assert (out / "labels.txt").read_text().split() == ["0", "1", "7"]
        assert f"{fmt}: ok: max abs diff" in result.stdout
        started = time.monotonic()
        run = runtimes.load_runtime(str(out), fmt)  # independent reload, own runtime
        got = run(images)
        again = run(images)
        seconds = time.monotonic() - started
        np.testing.assert_array_equal(got, again)  # no live augmentation, deterministic
        report = runtimes.compare(reference, got, classes=3)
        assert report["passed"], (fmt, report)
        assert meta["reject_threshold"] == threshold and meta["output"]["shape"] == [None, 4]
        assert (reference[:, :3].argmax(1) == np.asarray(got)[:, :3].argmax(1)).all(), fmt
        assert ((np.asarray(got)[:, 3] > threshold) == unknown).all(), fmt
        size = export_module.disk_size(out / runtimes.FORMATS[fmt].artifact)
        table.append(f"{fmt:<11} max_abs_diff={report['max_abs_diff']:.2e} size={size} "
                     f"reload+run={seconds:.2f}s images={len(images)}")
    assert not [p for p in (folder / "trainings" / name / "export").iterdir()
                if p.name.startswith(".")], "temporary folders left behind"
    with capsys.disabled():
        print("\n" + "\n".join(table))


def test_exported_keras_model_has_no_augmentation_and_takes_uint8(project, call_ml):
    import keras
    folder, name = project
    assert call_ml(f"@{name}", "export", "--format=keras").returncode == 0
    model = keras.saving.load_model(folder / "trainings" / name / "export" / "keras" / "model.keras")
    assert not [n for n in export_module._layer_class_names(model) if export_module.is_augmentation(n)]
    assert model.inputs[0].dtype == "uint8" and tuple(model.input_shape) == (None, 96, 96, 3)
    out = model.predict(np.zeros((2, 96, 96, 3), np.uint8), verbose=0)
    assert out.shape == (2, 4)  # three classes, then the unknown score
    np.testing.assert_allclose(out[:, :3].sum(axis=1), 1.0, atol=1e-5)


def test_an_augmentation_layer_is_refused():
    import keras
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, keras.layers.RandomFlip()(inputs))
    with pytest.raises(Exception, match="augmentation layers .RandomFlip."):
        export_module.check_no_augmentation(export_module._layer_class_names(model))


def test_truncated_export_is_detected_and_the_old_export_kept(project, call_ml, monkeypatch):
    folder, name = project
    assert call_ml(f"@{name}", "export", "--format=keras").returncode == 0
    out = folder / "trainings" / name / "export" / "keras"
    before = (out / "model.keras").read_bytes()
    write = export_module.write_format

    def truncated(fmt, wrapped, path, size):
        write(fmt, wrapped, path, size)
        with open(path, "r+b") as handle:
            handle.truncate(path.stat().st_size // 2)
    monkeypatch.setattr(export_module, "write_format", truncated)
    result = call_ml(f"@{name}", "export", "--format=keras")
    assert result.returncode == 1, result.output
    assert "keras: FAILED" in result.stdout and "cannot load" in result.stdout
    assert "Error: export check failed for keras; the failed export was removed" in result.stderr
    assert (out / "model.keras").read_bytes() == before  # the checked export is still there
    assert sorted(p.name for p in out.parent.iterdir()) == ["keras"]  # no temporary folder


def test_a_mismatch_removes_the_export_and_exits_1_with_figures(project, call_ml, monkeypatch):
    folder, name = project
    load = runtimes.load_runtime

    def swapped(path, fmt, threads=None):
        run = load(path, fmt, threads)
        return lambda batch: np.asarray(run(batch))[:, ::-1]  # wrong class order
    monkeypatch.setattr(runtimes, "load_runtime", swapped)
    result = call_ml(f"@{name}", "export", "--format=onnx")
    assert result.returncode == 1, result.output
    assert "onnx: FAILED: max abs diff" in result.stdout and "same top-1 on" in result.stdout
    assert not (folder / "trainings" / name / "export" / "onnx").exists()
    assert not list((folder / "trainings" / name / "export").iterdir())


def test_synthetic_images_when_the_samples_are_gone(project, call_ml):
    folder, name = project
    shutil.rmtree(folder / "samples")
    result = call_ml(f"@{name}", "export", "--format=keras")
    assert result.returncode == 0, result.output
    assert "64 synthetic images" in result.stdout
    meta = read_meta(folder, name, "keras")
    assert meta["check"]["images"] == 64 and meta["check"]["source"].startswith("synthetic")


def test_a_missing_extra_is_one_line(project, call_ml, monkeypatch):
    folder, name = project
    monkeypatch.setattr(extras, "missing_modules", lambda modules, find_spec=None: list(modules))
    result = call_ml(f"@{name}", "export", "--format=keras,onnx")
    assert result.returncode == 1
    assert result.stderr.strip() == \
        "Error: export to onnx needs the export extra: pip install 'vergeml[export]'"
    assert not (folder / "trainings" / name / "export").exists()  # said before any work


def test_unknown_format_is_a_usage_error(project, call_ml):
    _, name = project
    result = call_ml(f"@{name}", "export", "--format=coreml")
    assert result.returncode == 2
    assert "unknown export format 'coreml'" in result.stderr


def test_metadata_json_is_valid_json_with_check_figures(project, call_ml):
    folder, name = project
    assert call_ml(f"@{name}", "export", "--format=keras").returncode == 0
    path = folder / "trainings" / name / "export" / "keras" / "metadata.json"
    check = json.loads(path.read_text())["check"]
    assert check["max_abs_diff"] <= check["tolerance"] == 5e-5 and check["top1_mismatches"] == 0
