"""``ml list``'s model column uses the architecture names users type (issue 30, item 9):
``resnet-50``, not the Keras name ``resnet50``; a filter accepts either spelling."""
import json

import pytest

from tests.unit.list_helpers import env, make_run, run_list


@pytest.fixture
def trained(tmp_path):
    """Runs as ml train writes them: the Keras name as backbone, the typed architecture."""
    make_run(tmp_path, "res-run", backbone="resnet50", hp={"architecture": "resnet-50"})
    make_run(tmp_path, "mob-run", backbone="mobilenetv2",
             hp={"architecture": "mobilenet-v2", "variant": "auto"})
    make_run(tmp_path, "dense-run", backbone="densenet169",
             hp={"architecture": "densenet", "variant": "169"})
    make_run(tmp_path, "family-run", backbone="densenet121",
             hp={"architecture": "densenet", "variant": "auto"})
    make_run(tmp_path, "old-run", backbone="inceptionv3")  # the original VergeML: no architecture
    return tmp_path


def models(env, capsys, *filters):
    out = run_list(env, capsys, *filters, output="json", columns="model").out
    return {row["instance"]: row["model"] for row in json.loads(out)}


def test_the_column_shows_the_typed_architecture(trained, env, capsys):
    assert models(env, capsys) == {"res-run": "resnet-50", "mob-run": "mobilenet-v2",
                                   "dense-run": "densenet-169", "family-run": "densenet121",
                                   "old-run": "inceptionv3"}


@pytest.mark.parametrize("value, expected", [
    ("resnet-50", {"res-run"}), ("resnet50", {"res-run"}), ("ResNet_50", {"res-run"}),
    ("densenet-169", {"dense-run"}), ("densenet-121", {"family-run"}),
    ("inception-v3", {"old-run"}), ("mobilenet-v2", {"mob-run"}),
])
def test_a_filter_accepts_either_spelling(trained, env, capsys, value, expected):
    assert set(models(env, capsys, "model", "-eq", value)) == expected
    assert not set(models(env, capsys, "model", "-neq", value)) & expected
