"""``ml train --name``: a name that is too long or starts with '-' is a one-line usage
error before any work (issue 30), and looking such a name up never raises OSError."""
import pytest

from tests.unit.instance_helpers import new
from vergeml.errors import UsageError
from vergeml.instances import check_new_name, load_instance


@pytest.mark.parametrize("bad, message", [
    ("x" * 300, r"^invalid instance name 'xxxxxxxxxxxxxxxxxxxx\.\.\.': 300 characters, at most 100\.$"),
    ("-dash", r"^invalid instance name '-dash': use only letters, digits, '-' and '_', "
              r"and do not start with '-'\.$"),
])
def test_bad_new_names_are_usage_errors(tmp_path, bad, message):
    for check in (lambda: check_new_name(tmp_path / "trainings", bad), lambda: new(tmp_path, name=bad)):
        with pytest.raises(UsageError, match=message) as info:
            check()
        assert info.value.exit_code == 2
    assert not (tmp_path / "trainings").exists() or not list((tmp_path / "trainings").iterdir())


def test_good_names_still_pass(tmp_path):
    for good in ("x" * 100, "_under", "run-1", "A_b-9"):
        check_new_name(tmp_path / "trainings", good)


def test_looking_up_a_too_long_name_is_unknown_not_oserror(tmp_path):
    new(tmp_path, name="real")
    with pytest.raises(UsageError, match="unknown instance @"):
        load_instance(tmp_path / "trainings", "y" * 300)
