"""``vergeml.records`` and the classes that left ``dataclasses`` for it.

:class:`~vergeml.options.Option` (a :class:`~vergeml.records.FrozenRecord`),
:class:`~vergeml.config.ProjectFile` and :data:`~vergeml.config.Mark` must
behave as the ``@dataclass`` / ``NamedTuple`` they were: constructor, repr,
equality, hashing, immutability. ``ml`` starts without importing
``dataclasses`` or ``typing``.
"""
import sys

import pytest

from vergeml.config import Mark, ProjectFile
from vergeml.options import Option
from vergeml.records import REQUIRED, FrozenInstanceError, FrozenRecord


class Point(FrozenRecord):
    FIELDS = (("x", REQUIRED), ("y", 0), ("tags", ()))


def test_constructor_takes_fields_by_position_or_keyword_with_defaults():
    assert Point(1).y == 0 and Point(1, 2).y == 2 and Point(x=1, tags=("a",)).tags == ("a",)
    assert Point(1, 2, ("t",)) == Point(tags=("t",), y=2, x=1)


@pytest.mark.parametrize("call, message", [
    (lambda: Point(), "missing 1 required positional argument: 'x'"),
    (lambda: Point(1, 2, (), 4), "takes 4 positional arguments but 5 were given"),
    (lambda: Point(1, z=3), "unexpected keyword argument 'z'"),
    (lambda: Point(1, x=2), "multiple values for argument 'x'"),
])
def test_bad_arguments_raise_type_error(call, message):
    with pytest.raises(TypeError, match=message):
        call()


def test_repr_equality_and_hash_by_fields():
    assert repr(Point(1, tags=("a",))) == "Point(x=1, y=0, tags=('a',))"
    assert Point(1) == Point(1) and Point(1) != Point(2) and Point(1) != (1, 0, ())
    assert hash(Point(1, 2)) == hash(Point(1, 2)) and len({Point(1), Point(1), Point(2)}) == 2


def test_fields_cannot_change():
    point = Point(1)
    with pytest.raises(FrozenInstanceError, match="cannot assign to field 'x'"):
        point.x = 2
    with pytest.raises(AttributeError):
        del point.y
    assert point == Point(1)


def test_option_is_a_frozen_record_as_its_dataclass_was():
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


def test_config_and_options_import_neither_dataclasses_nor_typing():
    """Checked on the modules' own imports (this process has imported both long ago)."""
    import ast  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415
    root = Path(sys.modules["vergeml"].__file__).parent
    for name in ("config.py", "options.py", "records.py"):
        tree = ast.parse((root / name).read_text(encoding="utf-8"))
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                    for alias in node.names}
        imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert not imported & {"dataclasses", "typing"}, name
