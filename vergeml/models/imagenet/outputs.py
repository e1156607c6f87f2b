"""The feature outputs ``image-features`` and ``labeled-image-features``.

``ml train`` always trains on backbone features it caches itself, so these
types are its default output and change nothing there: the feature
extractor is configured by the train options. ``ml preprocess`` writes one
feature vector (``.npy``) per sample. Its extractor settings come from
``data.output``, then the project's ``train:`` section, then the defaults,
so it computes the features ``ml train`` would, and both share the cache.
"""
from vergeml.console import warn
from vergeml.data.sources import Output
from vergeml.models.imagenet.imagenet_options import FEATURE_OPTIONS
from vergeml.settings.option_set import OptionSet


class ImageFeatures(Output):
    name = "image-features"
    description = ("Feature vectors of an ImageNet network, one per sample: what ml preprocess "
                   "writes (<dir>/<split>/<name>.npy). ml train always trains on them.")
    options = FEATURE_OPTIONS

    def __init__(self, **values):
        super().__init__(**values)
        self._extractors = {}

    def settings(self, env):
        """Extractor settings: ``data.output`` > ``train:`` section > defaults."""
        section = {k: v for k, v in (env.project.section("train") or {}).items()
                   if OptionSet(self.options).get(str(k)) is not None}
        values = OptionSet(self.options).resolve({}, section, where="train", lines=env.project.lines)
        return {**values, **{k: self.values[k] for k in self.given}}

    def extractor(self, env):
        """The :class:`FeatureExtractor` of :meth:`settings` (built once)."""
        from vergeml.models.imagenet.extraction.features import FeatureExtractor
        if env not in self._extractors:
            values = self.settings(env)
            self._extractors[env] = FeatureExtractor.from_options(values, env.random_seed)
        return self._extractors[env]

    def cache_stage(self, env):
        from vergeml.models.imagenet.extraction.feature_cache import feature_stage
        return feature_stage(self.extractor(env), self.settings(env)["resize"])

    def transform(self, env, dataset, samples, cache):
        from vergeml.models.imagenet.extraction.feature_cache import sample_features
        return sample_features(dataset, self.extractor(env), samples, self.settings(env)["resize"],
                               cache, settings=env.settings, progress=False)


class LabeledImageFeatures(ImageFeatures):
    name = "labeled-image-features"
    description = ("Feature vectors of an ImageNet network with their labels: what ml "
                   "preprocess writes (<dir>/<split>/<label>/<name>.npy). ml train always "
                   "trains on them.")
    labeled = True


def warn_ignored(output, args):
    """Warn about ``data.output`` settings that differ from ``ml train``'s, which win."""
    if output is None:
        return
    differ = [k for k in sorted(output.given) if k in args and output[k] != args[k]]
    if differ:
        warn("ml train uses its own options, not data.output: "
             + ", ".join(f"{k} {args[k]} (data.output: {output[k]})" for k in differ))
