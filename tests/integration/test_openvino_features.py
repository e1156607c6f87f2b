"""OpenVINO features agree with TensorFlow's on real MobileNet weights and real images."""
import os

import numpy as np
import pytest

from vergeml.runtimes import openvino_runtime as openvino_loader
from vergeml.models.imagenet.extraction.feature_cache import feature_stage
from vergeml.models.imagenet.extraction.features import FeatureExtractor

openvino_loader.load()  # the test extra installs it; never a silent skip

SIZE = 96

pytestmark = [
    pytest.mark.filterwarnings("ignore::vergeml.models.imagenet.backbones.SizeWarning"),
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]


@pytest.fixture
def keras_home(keras_home, monkeypatch):
    monkeypatch.setenv("VERGEML_OFFLINE", "1")
    return keras_home


@pytest.fixture(scope="module")
def faces():
    """48 real photos (scikit-image's lfw_subset faces, 25x25 grey) as SIZE x SIZE RGB uint8."""
    from PIL import Image
    from skimage.data import lfw_subset
    grey = lfw_subset()[:48]
    out = []
    for face in grey:
        img = Image.fromarray(np.uint8(np.clip(face * 255, 0, 255))).convert("RGB")
        out.append(np.asarray(img.resize((SIZE, SIZE), Image.BILINEAR)))
    return np.stack(out)


def _features(extractor, images, batch_size=16):
    chunks = list(extractor.iter_features(list(images), lambda image: image, batch_size=batch_size))
    return np.concatenate([i for i, _ in chunks]), np.concatenate([f for _, f in chunks])


def test_openvino_features_match_tensorflow(keras_home, tmp_path, faces):
    tf_ext = FeatureExtractor("mobilenet", alpha=0.25, size=SIZE)
    ov_ext = FeatureExtractor("mobilenet", alpha=0.25, size=SIZE, runtime="openvino",
                              cache_dir=tmp_path)
    _, expected = _features(tf_ext, faces)
    indices, got = _features(ov_ext, faces, batch_size=10)  # uneven last batch of 8
    assert indices.tolist() == list(range(len(faces)))
    assert got.dtype == np.float32 and got.shape == expected.shape == (len(faces), 256)
    scale = float(np.abs(expected).max())
    diff = float(np.abs(got - expected).max()) / scale
    print(f"openvino vs tensorflow features: max abs diff / scale = {diff:.2e} (scale {scale:.3g})")
    assert diff <= 1e-4
    # converted once, kept in the cache folder under the feature key
    xml = tmp_path / "openvino" / f"{ov_ext.key}-uint8" / "model.xml"
    assert xml.is_file() and xml.with_suffix(".bin").is_file()
    assert ov_ext.key == tf_ext.key
    assert feature_stage(ov_ext, "fill") == feature_stage(tf_ext, "fill") + ":openvino"
    # a second extractor reuses the IR instead of converting again
    mtime = os.stat(xml).st_mtime_ns
    again = FeatureExtractor("mobilenet", alpha=0.25, size=SIZE, runtime="openvino",
                             cache_dir=tmp_path)
    np.testing.assert_array_equal(_features(again, faces[:8], batch_size=8)[1], got[:8])
    assert os.stat(xml).st_mtime_ns == mtime


@pytest.mark.slow
def test_async_queue_keeps_order_and_equals_sync(keras_home, tmp_path, faces):
    from vergeml.models.imagenet.extraction import openvino_features
    ext = FeatureExtractor("mobilenet", alpha=0.25, size=SIZE, runtime="openvino",
                           cache_dir=tmp_path)
    compiled = ext.openvino_model()
    batch = faces[:16]  # the IR takes uint8 pixels and preprocesses them itself
    expected = ext.model.predict(ext.preprocess(batch), verbose=0)
    # the sync reference on its own compile (see iter_ordered: never compiled(...) first)
    other = openvino_features.compile_ir(openvino_features.ir_path(tmp_path, ext.key))
    request = other.create_infer_request()
    sync = []
    for i in range(0, 16, 4):
        request.infer({0: batch[i:i + 4]})
        sync.append(request.get_output_tensor(0).data.copy())
    sync = np.concatenate(sync)
    for _ in range(2):  # the queue twice: requests reused across calls
        results = list(openvino_features.iter_ordered(
            compiled, ((i, batch[i:i + 4]) for i in range(0, 16, 4))))
        assert [tag for tag, _ in results] == [0, 4, 8, 12]
        np.testing.assert_array_equal(np.concatenate([r for _, r in results]), sync)
    assert float(np.abs(sync - expected).max()) <= 1e-4 * float(np.abs(expected).max())
