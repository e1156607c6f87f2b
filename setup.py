"""Packaging for VergeML (`ml`), a command-line tool for transfer learning on images."""
import os

from setuptools import find_packages, setup

# TensorFlow's own package runs on a GPU where one and CUDA exist (docs/gpu.md); the
# `gpu` extra adds CUDA's libraries from pip, as TensorFlow documents it. `make test`
# installs the smaller CPU-only build instead (VERGEML_TENSORFLOW=tensorflow-cpu).
TENSORFLOW = os.environ.get("VERGEML_TENSORFLOW", "tensorflow")
if TENSORFLOW not in ("tensorflow", "tensorflow-cpu"):
    raise SystemExit(f"VERGEML_TENSORFLOW={TENSORFLOW!r}: expected tensorflow or tensorflow-cpu")

ENTRY_POINTS = {
    "console_scripts": ["ml = vergeml.cli.main:main"],
    "vergeml.cmd": [
        "help = vergeml.commands.help:HelpCommand",
        "new = vergeml.commands.new:NewCommand",
        "list = vergeml.commands.list:ListCommand",
        "download = vergeml.commands.download:DownloadCommand",
        "preprocess = vergeml.commands.preprocess:PreprocessCommand",
        "run = vergeml.commands.run:RunCommand",
        "plot = vergeml.commands.plot:PlotCommand",
        "ui = vergeml.commands.ui:UiCommand",
    ],
    "vergeml.model": [
        "imagenet = vergeml.models.imagenet:ImagenetModel",
    ],
    "vergeml.io": [
        "image = vergeml.data.sources:ImageSource",
        "labeled-image = vergeml.data.sources:LabeledImageSource",
        "mnist = vergeml.data.mnist:MnistSource",
        "image-features = vergeml.models.imagenet.outputs:ImageFeatures",
        "labeled-image-features = vergeml.models.imagenet.outputs:LabeledImageFeatures",
    ],
    "vergeml.operation": [
        "augment = vergeml.data.operations:Augment",
        "resize = vergeml.data.operations:Resize",
        "crop = vergeml.data.operations:Crop",
        "random-crop = vergeml.data.operations:RandomCrop",
        "flip-horizontal = vergeml.data.operations:FlipHorizontal",
        "flip-vertical = vergeml.data.operations:FlipVertical",
        "grayscale = vergeml.data.operations:Grayscale",
        "rgb = vergeml.data.operations:RGB",
    ],
    "vergeml.download": [
        "digits = vergeml.downloads.digits:Digits",
        "cats-and-dogs = vergeml.downloads.catalog:CatsAndDogs",
        "dogs = vergeml.downloads.catalog:Dogs",
        "unique-objects = vergeml.downloads.catalog:UniqueObjects",
        "ham10000 = vergeml.downloads.catalog:HAM10000",
    ],
    "vergeml.plot": [
        "roc = vergeml.plots.plot_commands:RocPlot",
        "pr = vergeml.plots.plot_commands:PrPlot",
        "confusion-matrix = vergeml.plots.plot_commands:ConfusionMatrixPlot",
    ],
    "vergeml.run": [
        "rest = vergeml.commands.run:RestService",
        "tensorboard = vergeml.commands.run:TensorboardService",
        "ui = vergeml.commands.ui:UiService",
    ],
}

# Tested with tf2onnx 1.17.0, onnx 1.23.2, onnxruntime 1.32.0, ai-edge-litert 2.3.0 on
# tensorflow-cpu 2.21 (protobuf 7, numpy 2.4, ml_dtypes 0.7; `pip check` clean).
EXPORT_REQUIRES = ["tf2onnx>=1.17", "onnx>=1.20", "onnxruntime>=1.22", "ai-edge-litert>=2.0"]
# `--runtime=openvino` (train features, predict) and `export --format=openvino`.
OPENVINO_REQUIRES = ["openvino>=2025.1"]
# `--engine=ray`: feature extraction on a Ray cluster (docs/ray.md). Ray Data's
# ActorPoolStrategy(size=N) and the map_batches retry options it relies on; Ray Tune
# for searches (--search=asha, grids with --engine=ray).
RAY_REQUIRES = ["ray[data,tune]>=2.50"]

setup(
    name="vergeml",
    version="0.2.0",
    description="Command-line tool for transfer learning on images",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="MIT",
    packages=find_packages(include=["vergeml", "vergeml.*"]),
    include_package_data=True,
    package_data={"vergeml": ["services/static/*", "services/ui/static/*"]},
    python_requires=">=3.10",
    install_requires=[
        f"{TENSORFLOW}>=2.16",
        "keras>=3.0",
        "pyyaml>=6.0",
        "numpy>=1.24",
        "pillow>=10.0",
        "tabulate>=0.9",
        "tqdm>=4.66",
        "scikit-learn>=1.3",
        # `ml doctor`: confident learning over out-of-fold probabilities (docs/doctor.md).
        "cleanlab>=2.6",
        # `ml doctor`'s neighbour search: one BLAS thread per tile, a tile per core.
        "threadpoolctl>=3.1",
        "matplotlib>=3.7",
        "waitress>=3.0",
        "werkzeug>=3.1",
        "tensorboard>=2.16",
    ],
    extras_require={
        # A GPU without a system-wide CUDA: CUDA and cuDNN from pip (Linux).
        "gpu": ["tensorflow[and-cuda]>=2.16"],
        # `ml @name export --format=onnx|tflite` and `predict --export=...` (docs/export.md).
        "export": EXPORT_REQUIRES,
        "openvino": OPENVINO_REQUIRES,
        "ray": RAY_REQUIRES,
        # hypothesis: the command-line and project-file fuzz; schemathesis: the
        # REST API against its own /openapi.json; playwright: drives Debian's
        # chromium (/usr/bin/chromium) for the service's pages (tests/reliability);
        # ruff: the linter make test runs first (ruff.toml).
        "test": ["pytest>=8.0", "pytest-timeout>=2.2", "scikit-image>=0.22", "ruff>=0.5",
                 "hypothesis>=6.100", "schemathesis>=4.0", "playwright>=1.40"] + EXPORT_REQUIRES
        + OPENVINO_REQUIRES + RAY_REQUIRES,
    },
    entry_points=ENTRY_POINTS,
)
