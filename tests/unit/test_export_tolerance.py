"""The export self-check's one rule (issue 30, item 2): every format is checked at the
same absolute tolerance, 5e-5, wide enough for float32 runtime noise; the same top-1
class on every image stays the hard check."""
import numpy as np
import pytest

from vergeml.runtimes import export_formats as runtimes
from vergeml.models.imagenet.export import exporter as export_module


def _probabilities(rows=64, classes=10, seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2, (rows, classes))
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def test_one_tolerance_for_every_format():
    assert runtimes.TOLERANCE == 5e-5
    assert not any(hasattr(fmt, "tolerance") for fmt in runtimes.FORMATS.values())


@pytest.mark.parametrize("noise", [1.06e-5, 1.2e-5, 1.54e-5, 4.9e-5])
def test_float32_noise_of_the_issue_passes(noise):
    ref = _probabilities()
    got = ref.copy()
    got[np.arange(len(ref)), ref.argmin(axis=1)] += noise  # never changes the top-1
    report = runtimes.compare(ref, got)
    assert report["passed"] and report["tolerance"] == 5e-5
    assert report["max_abs_diff"] == pytest.approx(noise)


def test_a_larger_difference_fails():
    ref = _probabilities()
    got = ref.copy()
    got[0, ref[0].argmin()] += 6e-5
    assert not runtimes.compare(ref, got)["passed"]


def test_the_top1_class_is_the_hard_check():
    ref = np.array([[0.50, 0.4999, 0.0001], [0.6, 0.3, 0.1]])
    got = np.array([[0.4999, 0.50, 0.0001], [0.6, 0.3, 0.1]])  # swapped: 1e-4 apart, not a tie
    report = runtimes.compare(ref, got)
    assert not report["passed"] and report["top1_mismatches"] == 1 and report["ties"] == 0
    close = np.array([[0.5, 0.5 - 4e-5, 0.0]])  # within the tolerance: a tie, either class
    report = runtimes.compare(close, close[:, [1, 0, 2]])
    assert report["passed"] and report["ties"] == 1


def test_the_report_line_names_the_rule():
    report = {"passed": True, "images": 64, "top1_mismatches": 0, "ties": 0,
              "max_abs_diff": 1.2e-05, "tolerance": runtimes.TOLERANCE, "size_bytes": 900_000,
              "export_seconds": 4.0, "check_seconds": 1.0}
    assert export_module.describe("onnx", report).startswith(
        "onnx: ok: max abs diff 1.20e-05 (tolerance 5e-05), same top-1 on 64 of 64 images")
