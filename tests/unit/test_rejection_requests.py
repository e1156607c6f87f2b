"""Unknown rejection's per-request side: ``--reject``, the record fields, the text
output, the REST schema and the export metadata (no model; the scored model and
the fitting are tested in tests/integration and tests/e2e)."""
from types import SimpleNamespace

import pytest

from vergeml.commands.predict import format_text
from vergeml.errors import UsageError
from vergeml.models.imagenet import rejection
from vergeml.models.imagenet.imagenet_options import PREDICT_OPTIONS, REJECT_OPTION
from vergeml.runtimes.export_formats import compare, metadata


@pytest.mark.parametrize("reject, fitted, expected", [
    (None, 0.4, 0.4), ("auto", 0.4, 0.4), ("off", 0.4, None), (0.7, 0.4, 0.7),
    (None, None, None), ("auto", None, None), ("off", None, None),
])
def test_request_threshold(reject, fitted, expected):
    assert rejection.request_threshold(reject, fitted, "x") == expected


def test_a_number_without_a_fitted_score_is_a_usage_error():
    with pytest.raises(UsageError, match="@old-tron has no unknown score"):
        rejection.request_threshold(0.5, None, "old-tron")


def test_reject_option_parses_words_and_numbers():
    assert REJECT_OPTION.parse("auto") == "auto"
    assert REJECT_OPTION.parse("OFF") == "off"
    assert REJECT_OPTION.parse("0.25") == pytest.approx(0.25)
    with pytest.raises(Exception, match="auto|off"):
        REJECT_OPTION.parse("sometimes")


def test_fields_say_unknown_only_over_the_threshold():
    assert rejection.rejection_fields(0.5, 0.4) == {"unknown": True, "ood_score": 0.5, "threshold": 0.4}
    assert rejection.rejection_fields(0.4, 0.4)["unknown"] is False


def test_the_missing_rejection_is_one_line(capsys):
    rejection.no_rejection_note("old-tron")
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("Warning: @old-tron has no unknown rejection")


def _result(path, unknown):
    return {"path": path, "filename": path, "unknown": unknown, "ood_score": 0.51234, "threshold": 0.3,
            "prediction": [{"label": "ants", "probability": 0.7}, {"label": "bees", "probability": 0.3}]}


def test_text_output_says_unknown_with_score_and_nearest_class():
    text = format_text([_result("rose.jpg", True), _result("ant.jpg", False)])
    lines = text.splitlines()
    assert lines[0] == "rose.jpg"
    assert lines[1].startswith("unknown: unlike the training images (score 0.512 over the threshold 0.3)")
    assert lines[1].endswith("nearest class ants")
    assert "unknown" not in text.split("ant.jpg")[1]


def test_compact_output_prints_unknown_as_the_label():
    text = format_text([_result("rose.jpg", True), _result("ant.jpg", False)], compact=True)
    assert text.splitlines() == ["rose.jpg\tunknown", "ant.jpg\tants"]


def test_rest_schema_offers_reject_as_a_number_or_word():
    from vergeml.services.rest import MB, _option_fields, openapi_spec
    predictor = SimpleNamespace(name="t", labels=["a", "b"], options=PREDICT_OPTIONS,
                                defaults={"resize": "fill", "reject": "auto"})
    spec = openapi_spec(predictor, MB)
    schema = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["multipart/form-data"]
    reject = schema["schema"]["properties"]["reject"]
    assert reject["oneOf"] == [{"type": "number"}, {"type": "string", "enum": ["auto", "off"]}]
    assert reject["default"] == "auto"
    assert "unknown" in spec["components"]["schemas"]["Result"]["properties"]
    assert '<input name="reject" value="auto" required>' in _option_fields(predictor)


def test_export_metadata_and_check_with_the_score_column():
    meta = metadata("onnx", ["a", "b"], 224, "fill", "mobilenet", None, "1", 0.9, {}, 0.31)
    assert meta["output"]["shape"] == [None, 3] and meta["reject_threshold"] == 0.31
    assert "reject_threshold" not in metadata("onnx", ["a", "b"], 224, "fill", "m", None, "1", 0.9, {})
    # The score column (here 0.9, larger than any probability) takes no part in the top-1 check.
    reference = [[0.6, 0.4, 0.9], [0.2, 0.8, 0.1]]
    assert compare(reference, reference, classes=2)["passed"]
    off = compare(reference, [[0.6, 0.4, 0.95], [0.2, 0.8, 0.1]], classes=2)
    assert not off["passed"] and off["top1_mismatches"] == 0
