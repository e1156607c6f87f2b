"""``ml train`` on an imbalanced folder (issue 25): the class balance on by itself, said in
one line, stored, the saved model's outputs adjusted, and balanced_acc / macro_f1 in the
results and the ``ml list`` table."""
import json
import math
import shutil

import pytest

from tests.conftest import run_ml_process
from tests.e2e.conftest import digits_subset, read_metadata, train

pytestmark = pytest.mark.e2e
ARGS = ("--architecture=mobilenet", "--alpha=0.25", "--size=32", "--epochs=2", "--name=tilted")


def test_an_imbalanced_folder_trains_with_balanced_outputs(tmp_path, ml_env):
    project = digits_subset(tmp_path / "project", 30)
    for digit in range(3, 10):
        shutil.rmtree(project / "samples" / str(digit))
    for extra in sorted((project / "samples" / "2").iterdir())[6:]:
        extra.unlink()  # 30 zeros, 30 ones, 6 twos: 5 to 1
    result, name = train(project, ml_env, *ARGS)
    assert result.returncode == 0, result.output[-3000:]
    assert "class balance on: 0 has 24 training images, 2 4;" in result.stdout, result.stdout
    meta = read_metadata(project, name)
    assert meta["hyperparameters"]["class_weights"] == "adjusted"
    # -log(prior) of 24, 24 and 4 training images of 52
    assert meta["results"]["output_adjustment"] == {
        "0": pytest.approx(math.log(52 / 24)), "1": pytest.approx(math.log(52 / 24)),
        "2": pytest.approx(math.log(52 / 4))}
    assert 0 <= meta["results"]["balanced_acc"] <= 1 and 0 <= meta["results"]["macro_f1"] <= 1
    listed = run_ml_process("list", cwd=project, env=ml_env)
    assert listed.returncode == 0 and "balanced_acc" in listed.stdout.splitlines()[0], listed.output
    rows = json.loads(run_ml_process("list", "--output=json", cwd=project, env=ml_env).stdout)
    assert rows[0]["balanced_acc"] == meta["results"]["balanced_acc"]
