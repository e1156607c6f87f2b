"""Frozen value classes without :mod:`dataclasses`.

Importing ``dataclasses`` (which imports ``inspect``, ``ast``, ``dis`` and
``tokenize``) took about a tenth of every ``ml`` start, ``ml list``
included. :class:`~vergeml.options.Option` is declared by the hundred at
start-up, so it derives from :class:`FrozenRecord` instead, which gives what
``@dataclass(frozen=True)`` gave it: a constructor taking the fields in
order (positionally or by keyword) with their defaults, a repr listing every
field, equality and hashing by the fields, and no assignment after creation.
Modules loaded only for heavier commands keep using ``dataclasses``.
"""

REQUIRED = object()  # the default of a field that has none


class FrozenInstanceError(AttributeError):
    """A field of a frozen record was assigned or deleted."""


class FrozenRecord:
    """Base of immutable value classes.

    Attributes:
        FIELDS: ``((name, default), ...)`` in constructor order; the default
            :data:`REQUIRED` makes a field required. Defaults are shared
            between instances, so they must be immutable (as with dataclasses).
    """

    FIELDS = ()

    def __init__(self, *args, **kwargs):
        for name, value in _bind(type(self), args, kwargs):
            object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name):
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def _field_values(self):
        """The fields' values, in :attr:`FIELDS` order."""
        return tuple(getattr(self, name) for name, _ in self.FIELDS)

    def __repr__(self):
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name, _ in self.FIELDS)
        return f"{type(self).__qualname__}({fields})"

    def __eq__(self, other):
        if other.__class__ is self.__class__:
            return self._field_values() == other._field_values()
        return NotImplemented

    def __hash__(self):
        return hash(self._field_values())


def _bind(cls, args, kwargs):
    """Match constructor arguments to ``cls.FIELDS``, as a generated ``__init__`` would.

    Args:
        cls: the record class.
        args: positional arguments, in field order.
        kwargs: keyword arguments.

    Returns:
        ``[(name, value), ...]`` for every field.

    Raises:
        TypeError: too many positional arguments, an unknown or repeated
            keyword, or a required field not given.
    """
    where = f"{cls.__qualname__}.__init__()"
    if len(args) > len(cls.FIELDS):
        raise TypeError(f"{where} takes {len(cls.FIELDS) + 1} positional arguments "
                        f"but {len(args) + 1} were given")
    given = {name: value for (name, _), value in zip(cls.FIELDS, args)}
    names = {name for name, _ in cls.FIELDS}
    for name, value in kwargs.items():
        if name not in names:
            raise TypeError(f"{where} got an unexpected keyword argument {name!r}")
        if name in given:
            raise TypeError(f"{where} got multiple values for argument {name!r}")
        given[name] = value
    bound = []
    for name, default in cls.FIELDS:
        value = given.get(name, default)
        if value is REQUIRED:
            raise TypeError(f"{where} missing 1 required positional argument: {name!r}")
        bound.append((name, value))
    return bound
