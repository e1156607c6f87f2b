"""``--tta`` without a model: the views, the mean of the probabilities, the
predict-time default taken from the instance, the REST fields and the export's note.
The whole path on real photos is tests/e2e/test_tta.py."""
import io
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from vergeml.instances import create_instance
from vergeml.models.imagenet import tta


def _batch(count=3, size=16, dtype=np.uint8, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (count, size, size, 3)).astype(dtype)


# -- the views ------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_views_keep_shape_and_type_of_the_batch(dtype):
    batch = _batch(dtype=dtype)
    views = tta.views(batch)
    assert len(views) == len(tta.VIEWS) == 4
    assert all(v.shape == batch.shape and v.dtype == batch.dtype for v in views)
    assert tta.stacked_views(batch).shape == (4 * 3, 16, 16, 3)


def test_the_first_view_is_the_image_and_the_second_its_mirror():
    batch = _batch()
    identity, flip, crop, crop_flip = tta.views(batch)
    np.testing.assert_array_equal(identity, batch)
    np.testing.assert_array_equal(flip, batch[:, :, ::-1])  # left-right, rows untouched
    np.testing.assert_array_equal(flip[:, :, 0], batch[:, :, -1])
    np.testing.assert_array_equal(crop_flip, crop[:, :, ::-1])
    assert not np.array_equal(crop, batch)


def test_the_crop_is_the_centre_scaled_back():
    """A frame of 0 around a 100 centre: the crop sees only the centre, on every side."""
    size = 32
    offset, side = tta.crop_box(size)
    assert (offset, side) == (2, 28) and size - side - offset == offset  # 7/8, same margin each side
    batch = np.zeros((1, size, size, 3), np.uint8)
    batch[:, offset:offset + side, offset:offset + side] = 100
    crop = tta.views(batch)[2]
    assert (crop == 100).all()
    batch[:, offset, offset] = 0  # the crop's corner: it is inside the crop, so the view shows it
    assert tta.views(batch)[2][0, 0, 0, 0] < 100


def test_the_crop_scales_as_pillow_bilinear_does():
    batch = _batch(count=1, size=64, seed=3)
    offset, side = tta.crop_box(64)
    square = Image.fromarray(batch[0, offset:offset + side, offset:offset + side])
    expected = np.asarray(square.resize((64, 64), Image.BILINEAR), dtype=int)
    assert np.abs(tta.views(batch)[2][0].astype(int) - expected).max() <= 1  # rounding apart


def test_views_are_deterministic():
    batch = _batch(dtype=np.float32, seed=7)
    first, second = tta.views(batch), tta.views(batch.copy())
    assert all(np.array_equal(a, b) for a, b in zip(first, second))


# -- the mean of the probabilities ------------------------------------------------------

def _left_share(pixels):
    """A fake model: 'probability' of class 0 = the share of brightness in the left half."""
    pixels = np.asarray(pixels, dtype=np.float64)
    width = pixels.shape[2]
    left = pixels[:, :, :width // 2].sum(axis=(1, 2, 3))
    share = left / pixels.sum(axis=(1, 2, 3))
    return np.stack([share, 1 - share], axis=1)


def test_mean_probabilities_averages_each_image_over_its_views_in_one_call():
    batch = _batch(count=5, dtype=np.float32) + 1
    calls = []

    def predict(pixels):
        calls.append(len(pixels))
        return _left_share(pixels)
    got = tta.mean_probabilities(predict, batch)
    expected = np.mean([_left_share(view) for view in tta.views(batch)], axis=0)
    assert calls == [4 * 5]
    assert got.shape == (5, 2)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    # The flip swaps the halves: identity and flip together give exactly one half.
    pair = np.mean([_left_share(v) for v in tta.views(batch)[:2]], axis=0)
    np.testing.assert_allclose(pair, 0.5)


def test_predict_in_batches_reads_a_memmap_batch_by_batch(tmp_path):
    batch = _batch(count=7, seed=5)
    stored = np.lib.format.open_memmap(tmp_path / "images.npy", "w+", np.uint8, batch.shape)
    stored[:] = batch
    sizes = []

    def predict(pixels):
        sizes.append(len(pixels))
        return _left_share(pixels.astype(np.float32) + 1)
    got = tta.predict_in_batches(predict, stored, batch_size=3)
    assert sizes == [12, 12, 4]
    np.testing.assert_allclose(got, tta.mean_probabilities(predict, batch), rtol=1e-6)
    plain = tta.predict_in_batches(predict, stored, batch_size=3, tta=False)
    np.testing.assert_allclose(plain, _left_share(batch.astype(np.float32) + 1), rtol=1e-6)


# -- the default at predict time --------------------------------------------------------

def test_the_default_is_what_the_instance_was_trained_with():
    assert tta.trained_with_tta({"tta": True}) is True
    assert tta.trained_with_tta({"tta": False}) is False
    assert tta.trained_with_tta({}) is False and tta.trained_with_tta(None) is False  # older runs
    assert tta.use_tta(None, True) is True and tta.use_tta(None, False) is False
    assert tta.use_tta(False, True) is False and tta.use_tta(True, False) is True


class _FakePredictor:
    """An :class:`ImagePredictor` whose model is :func:`_left_share` (no TensorFlow)."""

    @staticmethod
    def make(tmp_path, trained):
        from vergeml.models.imagenet.image_predictor import ImagePredictor

        class Fake(ImagePredictor):
            rows = []

            def predict_arrays(self, batch):
                self.rows.append(len(batch))
                return _left_share(np.asarray(batch) + 1)
        instance = create_instance(tmp_path / "trainings", "imagenet", "mobilenet",
                                   {"architecture": "mobilenet", "tta": trained}, name=f"t-{trained}")
        return Fake(instance, ["left", "right"], 16, "fill")


def _png(seed):
    data = io.BytesIO()
    Image.fromarray(_batch(count=1, seed=seed)[0]).save(data, format="PNG")
    return data.getvalue()


@pytest.mark.parametrize("trained", [True, False])
def test_a_predictor_follows_its_instance_unless_the_request_says_otherwise(tmp_path, trained):
    predictor = _FakePredictor.make(tmp_path, trained)
    assert predictor.defaults == {"resize": "fill", "tta": trained, "reject": "auto"}
    items = [(f"{i}.png", _png(i)) for i in range(2)]
    default = predictor.predict_images(items, top_k=2)
    assert predictor.rows == [8 if trained else 2]
    opposite = predictor.predict_images(items, top_k=2, tta=not trained)
    assert predictor.rows[-1] == (2 if trained else 8)
    same = predictor.predict_images(items, top_k=2, tta=trained)
    assert same == default and opposite != default
    assert [r["prediction"][0]["label"] for r in default]  # the output format is unchanged


# -- REST fields and the export's note ---------------------------------------------------

def test_rest_offers_tta_as_a_boolean_with_the_instances_default():
    from vergeml.models.imagenet.imagenet_options import PREDICT_OPTIONS
    from vergeml.services.rest import MB, HttpError, _option_fields, _prediction_options, openapi_spec
    predictor = SimpleNamespace(name="t", labels=["a", "b"], options=PREDICT_OPTIONS,
                                defaults={"resize": "fill", "tta": True})
    schema = openapi_spec(predictor, MB)["paths"]["/predict"]["post"]["requestBody"]["content"][
        "multipart/form-data"]["schema"]["properties"]["tta"]
    assert schema["type"] == "boolean" and schema["default"] is True
    fields = _option_fields(predictor)
    assert '<select name="tta"><option value="true" selected>true</option>' \
           '<option value="false">false</option></select>' in fields
    assert _prediction_options({}, predictor)[1]["tta"] is None  # not sent: the instance decides
    assert _prediction_options({"tta": "false"}, predictor)[1]["tta"] is False
    for loose in ("yes", "1", "True", ""):  # as strict as the spec's boolean
        with pytest.raises(HttpError, match="tta: expected true or false"):
            _prediction_options({"tta": loose}, predictor)


def test_export_notes_a_tta_instance_in_one_line(tmp_path):
    from vergeml.models.imagenet.export.exporter import tta_note
    with_tta = create_instance(tmp_path / "trainings", "imagenet", "mobilenet", {"tta": True}, name="a")
    without = create_instance(tmp_path / "trainings", "imagenet", "mobilenet", {"tta": False}, name="b")
    note = tta_note(with_tta)
    assert note.startswith("note: @a was tested with --tta; the exported model predicts without it")
    assert "\n" not in note
    assert tta_note(without) is None
