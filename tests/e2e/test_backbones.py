"""The backbone table in a fresh interpreter: importing it, and building an
extractor without weights, import neither Keras nor TensorFlow."""
import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e


def test_importing_the_table_imports_no_keras():
    code = ("import sys, vergeml.models.imagenet.backbones as b; b.architecture_names(); "
            "b.resolve_size(b.get_backbone('mobilenet'), 'auto'); "
            "import vergeml.models.imagenet.extraction.features as f; "
            "f.FeatureExtractor('resnet-50', weights='none'); "
            "sys.exit(any(m in sys.modules for m in ('keras', 'tensorflow')))")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
