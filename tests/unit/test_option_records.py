"""The small value classes of the settings: :class:`~vergeml.settings.option.Option` (a frozen
dataclass), :class:`~vergeml.settings.project_settings.ProjectFile` and :data:`~vergeml.settings.project_settings.Mark`:
constructor, repr, equality, hashing, immutability."""
import pytest

from vergeml.settings.project_settings import Mark, ProjectFile
from vergeml.settings.option import Option


def test_option_is_a_frozen_dataclass():
    option = Option("epochs", 5, "int", rule=">0")
    assert repr(option).startswith("Option(name='epochs', default=5, type='int', help='', ")
    assert repr(option).endswith("yaml=True, required=False, aliases=())")
    assert option == Option("epochs", default=5, type="int", rule=">0") != Option("epochs")
    assert hash(option) == hash(Option("epochs", 5, "int", rule=">0"))
    with pytest.raises(AttributeError):
        option.default = 6
    with pytest.raises(TypeError):
        hash(Option("sort", default=["training_start"]))  # unhashable field, as before


def test_project_file_as_its_dataclass_was():
    first, second = ProjectFile(), ProjectFile()
    assert first == second and repr(first) == "ProjectFile(path=None, data={}, lines={})"
    first.data["x"] = 1
    assert second.data == {} and first != second  # no shared default dict
    assert ProjectFile(data=None).data is None
    with pytest.raises(TypeError):
        hash(first)


def test_mark_is_a_named_tuple():
    mark = Mark((1, 2), (3, 4))
    assert mark.key == (1, 2) and mark.value == (3, 4) and mark == ((1, 2), (3, 4))
    assert repr(mark) == "Mark(key=(1, 2), value=(3, 4))" and Mark._fields == ("key", "value")
