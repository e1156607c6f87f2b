"""Export logic without TensorFlow: formats, comparison, extras, export folders, install."""
import json

import numpy as np
import pytest

from vergeml.runtimes import export_formats as runtimes
from vergeml.errors import UsageError, VergeMLError
from vergeml.models.imagenet.export import exporter as export_module


def test_parse_formats_comma_list_in_order_once_each():
    assert runtimes.parse_formats("onnx, TFLite,onnx") == ["onnx", "tflite"]
    assert runtimes.parse_formats(["savedmodel"]) == ["savedmodel"]
    assert runtimes.parse_formats("savedmodel,tflite,onnx,keras,openvino") == list(runtimes.FORMATS)


@pytest.mark.parametrize("value, message", [("coreml", "unknown export format 'coreml'"),
                                             ("", "no export format"), (",", "no export format")])
def test_parse_formats_rejects_bad_values(value, message):
    with pytest.raises(UsageError, match=message):
        runtimes.parse_formats(value)


def test_compare_passes_within_tolerance_and_reports_the_figures():
    ref = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    report = runtimes.compare(ref, ref + 3e-6, 1e-5)
    assert report["passed"] and report["images"] == 2 and report["top1_mismatches"] == 0
    assert report["max_abs_diff"] == pytest.approx(3e-6)


def test_compare_fails_on_a_large_difference_or_a_different_top1():
    ref = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    assert not runtimes.compare(ref, ref + 2e-5, 1e-5)["passed"]
    flipped = runtimes.compare(ref, ref[:, ::-1], 0.5)
    assert not flipped["passed"] and flipped["top1_mismatches"] == 2


def test_compare_accepts_either_class_of_a_tie_within_tolerance():
    ref = np.array([[0.5, 0.5 - 1e-6, 0.0]])
    got = np.array([[0.5 - 1e-6, 0.5, 0.0]])
    report = runtimes.compare(ref, got, 1e-5)
    assert report["passed"] and report["ties"] == 1 and report["top1_mismatches"] == 0


def test_compare_fails_on_nan_and_on_a_wrong_shape():
    ref = np.full((2, 3), 1 / 3)
    assert not runtimes.compare(ref, np.full((2, 3), np.nan), 1e-5)["passed"]
    report = runtimes.compare(ref, np.zeros((2, 4)), 1e-5)
    assert not report["passed"] and "output shape" in report["problem"]


def test_a_missing_extra_names_the_extra_in_one_line():
    with pytest.raises(VergeMLError) as info:
        runtimes.require_extra("onnx", find_spec=lambda name: None)
    assert info.value.message == "export to onnx needs the export extra: pip install 'vergeml[export]'"
    with pytest.raises(VergeMLError, match="^predict with tflite needs the export extra"):
        runtimes.require_extra("tflite", "predict with", find_spec=lambda name: None)
    runtimes.require_extra("savedmodel", find_spec=lambda name: None)  # needs nothing extra


def _export_folder(path, fmt="onnx"):
    path.mkdir(parents=True)
    (path / "metadata.json").write_text(json.dumps({"format": fmt, "size": 96}))
    (path / "labels.txt").write_text("cat\ndog\n")
    return path


@pytest.mark.parametrize("value", ["onnx", "export/onnx", "export/onnx/"])
def test_resolve_export_by_format_or_relative_folder(tmp_path, value):
    _export_folder(tmp_path / "inst" / "export" / "onnx")
    folder, fmt = runtimes.resolve_export(str(tmp_path / "inst"), value)
    assert fmt == "onnx" and folder.replace("\\", "/").rstrip("/").endswith("inst/export/onnx")
    assert runtimes.read_labels(folder) == ["cat", "dog"]


def test_resolve_export_by_absolute_folder_and_missing_export(tmp_path):
    other = _export_folder(tmp_path / "elsewhere", "tflite")
    assert runtimes.resolve_export(str(tmp_path / "inst"), str(other)) == (str(other), "tflite")
    with pytest.raises(VergeMLError, match="no export found"):
        runtimes.resolve_export(str(tmp_path / "inst"), "keras")


def test_load_runtime_reports_a_missing_file(tmp_path):
    _export_folder(tmp_path / "e")
    with pytest.raises(VergeMLError, match="export file missing"):
        runtimes.load_runtime(str(tmp_path / "e"), "onnx")


def test_metadata_records_what_deployment_needs():
    meta = runtimes.metadata("tflite", ["a", "b"], 96, "fill", "mobilenet", "auto", "0.2.0",
                             0.9, {"images": 3})
    assert meta["file"] == "model.tflite" and meta["input"]["shape"] == [None, 96, 96, 3]
    assert meta["input"]["dtype"] == "uint8" and meta["output"]["shape"] == [None, 2]
    assert (meta["labels"], meta["resize"], meta["architecture"], meta["ml_version"],
            meta["test_acc"]) == (["a", "b"], "fill", "mobilenet", "0.2.0", 0.9)


@pytest.mark.parametrize("name, found", [("RandomFlip", True), ("RandomZoom", True),
                                         ("MixUp", True), ("Dense", False), ("Rescaling", False)])
def test_augmentation_layers_are_recognised(name, found):
    assert export_module.is_augmentation(name) is found


def test_check_no_augmentation_names_the_layers():
    export_module.check_no_augmentation(["InputLayer", "Functional", "Dense"])
    with pytest.raises(VergeMLError, match=r"\(RandomFlip, RandomRotation\)"):
        export_module.check_no_augmentation(["Dense", "RandomRotation", "RandomFlip"])


def test_install_replaces_an_existing_export_only_when_called(tmp_path):
    final = tmp_path / "export" / "onnx"
    final.mkdir(parents=True)
    (final / "model.onnx").write_text("old")
    new = tmp_path / "export" / ".onnx.tmp"
    new.mkdir()
    (new / "model.onnx").write_text("new")
    assert export_module.install(new, final) == final
    assert (final / "model.onnx").read_text() == "new"
    assert sorted(p.name for p in (tmp_path / "export").iterdir()) == ["onnx"]


def test_synthetic_images_are_deterministic_uint8():
    first = export_module.synthetic_images(4, 16)
    assert first.dtype == np.uint8 and first.shape == (4, 16, 16, 3)
    np.testing.assert_array_equal(first, export_module.synthetic_images(4, 16))
    assert first.std() > 10  # not blank


def test_sizes_read_as_people_write_them(tmp_path):
    assert export_module.format_size(512) == "512 B"
    assert export_module.format_size(896_621) == "896.6 KB"
    assert export_module.format_size(2_672_404) == "2.7 MB"
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a").write_bytes(b"x" * 10)
    (tmp_path / "d" / "b").write_bytes(b"x" * 5)
    assert export_module.disk_size(tmp_path / "d") == 15
