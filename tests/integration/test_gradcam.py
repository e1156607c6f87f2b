"""Grad-CAM heatmaps (issue 27) on fused classifiers built as training builds them.

The heat test and the randomisation check use the real MobileNet alpha 0.25
ImageNet weights (offline) and a top trained in seconds on synthetic scenes:
a coloured checkerboard (the object, class 0) and a black-and-white noise
patch (a distractor, in every scene) on a smooth background; scenes without
the checkerboard are class 1. The distractor matters: alone on a plain
background, the checkerboard is also where a *randomly* initialised
MobileNet's maps peak (its features respond to contrast; measured correlation
with the trained maps 0.70-0.92), so only a scene with a second salient
patch tells learned evidence from salience.
"""
import numpy as np
import pytest

from tests.unit.backbone_helpers import LISTED
from vergeml.errors import VergeMLError
from vergeml.models.imagenet.backbones import get_backbone
from vergeml.models.imagenet.explain.gradcam import GradCam, last_spatial_layer
from vergeml.models.imagenet.extraction.features import FeatureExtractor
from vergeml.models.imagenet.training.head import build_top

pytestmark = [
    pytest.mark.filterwarnings("ignore::vergeml.models.imagenet.backbones.SizeWarning"),
    # Keras's own saving code under numpy 2; nothing of ours.
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
]

SIZE = 224        # MobileNet's 7x7 map: a quadrant is 3x3 cells plus the middle row/column
PATCH = 64        # side of the object and of the distractor, in pixels
FAR = SIZE - PATCH - 8
CORNERS = [(8, 8), (8, FAR), (FAR, 8), (FAR, FAR)]  # top-left, top-right, bottom-left, bottom-right
OBJECT, OTHER = 0, 1


# -- synthetic scenes ----------------------------------------------------------


def scene(rng, object_at=None, distractor_at=None):
    """uint8 ``(SIZE, SIZE, 3)``: a smooth noisy background with the patches at ``(y, x)``."""
    ramp = np.linspace(0, 1, SIZE, dtype=np.float32)
    tilt = np.add.outer(*(rng.uniform(-40, 40, 2)[:, None] * ramp))[..., None]
    image = 120 + tilt + rng.normal(0, 6, (SIZE, SIZE, 3))
    for at, patch in ((distractor_at, noise_patch), (object_at, checkerboard)):
        if at is not None:
            image[at[0]:at[0] + PATCH, at[1]:at[1] + PATCH] = patch(rng)
    return np.clip(image, 0, 255).astype(np.uint8)


def checkerboard(rng):
    squares = ((np.add.outer(np.arange(PATCH) // 8, np.arange(PATCH) // 8)) % 2)[..., None]
    return squares * rng.uniform(0, 255, 3) + (1 - squares) * 255.0


def noise_patch(rng):
    cells = rng.integers(0, 2, (PATCH // 2, PATCH // 2, 1)) * 255.0
    return np.repeat(np.repeat(cells, 2, axis=0), 2, axis=1)


def training_scenes(rng, per_class=16):
    def anywhere():
        return tuple(rng.integers(0, SIZE - PATCH, 2))
    images = ([scene(rng, anywhere(), anywhere()) for _ in range(per_class)]
              + [scene(rng, None, anywhere()) for _ in range(per_class)])
    return np.stack(images), np.repeat([OBJECT, OTHER], per_class)


@pytest.fixture(scope="module")
def corner_scenes():
    """Four scenes, the object in each corner in turn, the distractor in the opposite one."""
    return np.stack([scene(np.random.default_rng(100 + i), at, CORNERS[3 - i])
                     for i, at in enumerate(CORNERS)])


@pytest.fixture(scope="module")
def trained(_keras_home_dir):
    """``(extractor, top)``: ImageNet MobileNet and a top trained on the synthetic scenes."""
    import keras
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KERAS_HOME", str(_keras_home_dir))
        extractor = FeatureExtractor("mobilenet", alpha=0.25, size=SIZE)
        images, labels = training_scenes(np.random.default_rng(0))
        features = extractor.extract(images)
        keras.utils.set_random_seed(0)
        top = build_top(extractor.dim, 2, layers=1, dropout=0.0, seed=0)
        top.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
        top.fit(features, labels, batch_size=len(labels), epochs=40, verbose=0)
        yield extractor, top


@pytest.fixture(scope="module")
def trained_maps(trained, corner_scenes):
    """The trained model's heatmaps of the object in :func:`corner_scenes`."""
    extractor, top = trained
    return GradCam(extractor.full_model(top)).heatmaps(extractor.preprocess(corner_scenes), OBJECT)


def saved_and_loaded(model, folder):
    """``model`` through ``model.keras`` as the predictor loads it."""
    import keras
    path = folder / "model.keras"
    model.save(path)
    return keras.saving.load_model(str(path), compile=False)


def quadrant_totals(heatmap):
    """Heat per quadrant in :data:`CORNERS` order; the middle row and column left out."""
    half = heatmap.shape[0] // 2
    low, high = slice(0, half), slice(heatmap.shape[0] - half, None)
    return np.array([heatmap[rows, cols].sum() for rows in (low, high) for cols in (low, high)])


def correlation(a, b):
    """Pearson's r of two maps; 0 when either is constant (an all-zero map shares nothing)."""
    a, b = np.ravel(a), np.ravel(b)
    if a.std() == 0 or b.std() == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


# -- maps of a saved model -------------------------------------------------------


def test_maps_of_the_saved_model_are_cam(trained, corner_scenes, tmp_path):
    """Shape, range and probabilities; and, because MobileNet's last feature map goes
    straight into the global average pool and the top is one softmax layer, Grad-CAM
    must equal CAM (Zhou et al. 2016): ReLU(map . kernel[:, class]), scaled to max 1."""
    import keras
    extractor, top = trained
    model = saved_and_loaded(extractor.full_model(top), tmp_path)
    cam = GradCam(model)
    assert cam.layer.name == "conv_pw_13_relu" and cam.map_size == (7, 7)
    batch = extractor.preprocess(corner_scenes)
    maps, probabilities, classes = cam.explain(batch)
    assert maps.shape == (4, 7, 7) and maps.dtype == np.float32
    assert maps.min() >= 0 and np.allclose(maps.max(axis=(1, 2)), 1)
    np.testing.assert_allclose(probabilities, model.predict(batch, verbose=0), atol=1e-5)
    assert classes.tolist() == probabilities.argmax(axis=1).tolist()

    backbone = model.layers[1]
    feature_map = keras.Model(backbone.inputs[0], cam.layer.output)(batch).numpy()
    kernel = model.get_layer("top").get_layer("predictions").kernel.numpy()
    expected = np.maximum(feature_map @ kernel[:, OBJECT], 0)
    expected /= expected.max(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(cam.heatmaps(batch, OBJECT), expected, atol=1e-4)


def test_a_deeper_top_with_dropout(trained, corner_scenes):
    """A two-layer top with dropout: the logits are rebuilt through its hidden layer,
    dropout is off, and the class may be given per image or for all."""
    extractor, _ = trained
    model = extractor.full_model(build_top(extractor.dim, 3, layers=2, dropout=0.5, seed=0))
    cam = GradCam(model)
    batch = extractor.preprocess(corner_scenes[:2])
    maps, probabilities, classes = cam.explain(batch)
    np.testing.assert_allclose(probabilities, model.predict(batch, verbose=0), atol=1e-5)
    assert classes.tolist() == probabilities.argmax(axis=1).tolist()
    np.testing.assert_array_equal(cam.heatmaps(batch, classes), maps)
    assert cam.heatmaps(batch, 2).shape == (2, 7, 7)
    assert cam.heatmaps(batch[:0]).shape == (0, 7, 7)
    with pytest.raises(ValueError, match="class index 3 out of range"):
        cam.heatmaps(batch, 3)


# -- sanity: the heat is on the object, and it depends on the weights ------------


def test_the_heat_is_on_the_object(trained, corner_scenes, trained_maps):
    extractor, top = trained
    probabilities = extractor.full_model(top).predict(extractor.preprocess(corner_scenes), verbose=0)
    assert (probabilities[:, OBJECT] > 0.5).all()
    for corner, heatmap in enumerate(trained_maps):
        peak = np.unravel_index(heatmap.argmax(), heatmap.shape)
        half = heatmap.shape[0] // 2
        assert (peak[0] > half, peak[1] > half) == divmod(corner, 2), (corner, heatmap.round(2))
        assert peak[0] != half and peak[1] != half
        totals = quadrant_totals(heatmap)
        # the object's quadrant against the distractor's, opposite
        assert totals[corner] > 0.8 * (totals[corner] + totals[3 - corner]), totals


def test_randomised_backbone_changes_the_maps(trained, corner_scenes, trained_maps):
    """The model-parameter randomisation check (Adebayo et al. 2018): the same top on
    randomly initialised backbones (three seeds: one random network can still follow
    contrast, see the module's docstring) gives maps unlike the trained ones."""
    extractor, top = trained
    batch = extractor.preprocess(corner_scenes)
    correlations = []
    for seed in (0, 1, 2):
        randomised = FeatureExtractor("mobilenet", alpha=0.25, size=SIZE, weights="none", seed=seed)
        maps = GradCam(randomised.full_model(top)).heatmaps(batch, OBJECT)
        correlations += [correlation(a, b) for a, b in zip(trained_maps, maps)]
    assert np.mean(correlations) < 0.5, np.round(correlations, 2)


# -- the layer, on every backbone --------------------------------------------------


def global_pool(backbone):
    """The backbone's final pooling (the last: squeeze-and-excitation blocks pool too)."""
    import keras
    return [op for op in backbone.operations if isinstance(op, keras.layers.GlobalAveragePooling2D)][-1]


def check_backbone_at_smallest_size(name):
    """weights none, smallest input: a feature map larger than 1x1 that is no padding,
    and finite heatmaps of one image through a fresh top."""
    import keras
    size = get_backbone(name).min_size
    extractor = FeatureExtractor(name, size=size, weights="none", seed=0)
    cam = GradCam(extractor.full_model(build_top(extractor.dim, 2, 1, 0.0, 0)))
    assert np.prod(cam.map_size) > 1
    assert not isinstance(cam.layer, (keras.layers.ZeroPadding2D, keras.layers.Cropping2D))
    image = np.random.default_rng(0).integers(0, 256, (1, size, size, 3))
    maps = cam.heatmaps(extractor.preprocess(image))
    assert maps.shape == (1, *cam.map_size)
    assert np.isfinite(maps).all() and maps.min() >= 0 and maps.max() <= 1
    keras.backend.clear_session()
    return cam.layer


def check_pool_reads_the_layer(name):
    """At the backbone's own size the layer is the one its global pooling reads."""
    import keras
    extractor = FeatureExtractor(name, weights="none", seed=0)
    layer = last_spatial_layer(extractor.model)
    assert global_pool(extractor.model).input is layer.output, layer.name
    keras.backend.clear_session()


def test_mobilenet_v2_at_its_smallest_size_skips_padding(keras_home):
    """At 32 px its last blocks are 1x1 and the 3x3 maps before them are zero padding."""
    assert check_backbone_at_smallest_size("mobilenet-v2").name == "block_13_expand_relu"


def test_convnext_map_is_its_last_residual_sum(keras_home):
    """ConvNeXt's blocks end in a ``+``: a Keras operation, not a layer."""
    check_pool_reads_the_layer("convnext-tiny")


@pytest.mark.slow
@pytest.mark.parametrize("name", LISTED)
def test_every_backbone_at_its_smallest_size(name, keras_home):
    check_backbone_at_smallest_size(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet-50", "resnet-50-v2", "inception-v3", "inception-resnet-v2",
                                  "xception", "mobilenet", "mobilenet-v2", "mobilenet-v3-small",
                                  "vgg-16", "densenet-121", "nasnet-mobile", "efficientnet-b0",
                                  "efficientnet-v2-b0"])
def test_each_family_at_its_own_size(name, keras_home):
    check_pool_reads_the_layer(name)


# -- models without a heatmap ------------------------------------------------------


def fused(backbone):
    import keras
    inputs = keras.Input(backbone.inputs[0].shape[1:])
    top = build_top(backbone.outputs[0].shape[-1], 2, 1, 0.0, 0)
    return keras.Model(inputs, top(backbone(inputs)))


def dense_only():
    import keras
    inputs = keras.Input((8, 8, 3))
    return keras.Model(inputs, keras.layers.Dense(4)(keras.layers.Flatten()(inputs)), name="dense_only")


def one_by_one():
    import keras
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.ZeroPadding2D(2)(keras.layers.Conv2D(4, 32, strides=32)(inputs))
    x = keras.layers.Conv2D(4, 5)(x)  # 1x1 again, after a padded 5x5
    return keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x), name="one_by_one")


@pytest.mark.parametrize("make", [dense_only, one_by_one])
def test_a_backbone_without_feature_maps_is_one_line_error(make):
    backbone = make()
    with pytest.raises(VergeMLError) as info:
        GradCam(fused(backbone))
    message = str(info.value)
    assert message == f"{backbone.name} has no spatial layer (no 4-D output larger than 1x1) to draw a heatmap from"
    with pytest.raises(VergeMLError):
        last_spatial_layer(backbone)


def test_a_model_that_is_not_backbone_and_top_is_refused():
    import keras
    inputs = keras.Input((16, 16, 3))
    flat = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(
        keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inputs))), name="flat")
    with pytest.raises(VergeMLError, match="cannot draw heatmaps for flat: expected a backbone and a top"):
        GradCam(flat)


def tiny_model(top_layers):
    """A 16 px conv backbone (14x14 map) and a top of ``top_layers`` on its 4 features."""
    import keras
    inputs = keras.Input((16, 16, 3))
    backbone = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(
        keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)), name="tiny")
    features = keras.Input((4,))
    x = features
    for layer in top_layers:
        x = layer(x)
    images = keras.Input((16, 16, 3))
    return keras.Model(images, keras.Model(features, x, name="top")(backbone(images)))


@pytest.mark.parametrize("softmax", ["activation", "layer"])
def test_a_top_ending_in_a_softmax_layer_is_scored_by_its_logits(softmax):
    """Not build_top's shape (the softmax inside the Dense), the same heatmaps."""
    import keras
    fused_softmax = tiny_model([keras.layers.Dense(3, activation="softmax")])
    separate = keras.layers.Activation("softmax") if softmax == "activation" else keras.layers.Softmax()
    split_softmax = tiny_model([keras.layers.Dense(3), separate])
    split_softmax.set_weights(fused_softmax.get_weights())
    batch = np.random.default_rng(0).normal(size=(2, 16, 16, 3)).astype(np.float32)
    maps, probabilities, _ = GradCam(split_softmax).explain(batch)
    assert maps.shape == (2, 14, 14)
    np.testing.assert_allclose(probabilities, split_softmax.predict(batch, verbose=0), atol=1e-6)
    np.testing.assert_allclose(maps, GradCam(fused_softmax).heatmaps(batch), atol=1e-5)


def test_a_top_without_softmax_is_scored_by_its_outputs():
    import keras
    model = tiny_model([keras.layers.Dense(2, activation="sigmoid")])
    batch = np.random.default_rng(0).normal(size=(2, 16, 16, 3)).astype(np.float32)
    maps, scores, _ = GradCam(model).explain(batch, 1)
    assert maps.shape == (2, 14, 14) and maps.min() >= 0 and maps.max() <= 1
    np.testing.assert_allclose(scores, model.predict(batch, verbose=0), atol=1e-6)
