"""Cheaper construction of the model's frozen slot classes, for the builder.

A frozen class made by `records.frozen(slots=True)` sets each field in `__init__` through
its slot descriptor's `__set__`, a method-wrapper call (an argument tuple, unpacked in C)
that costs about ten times a plain attribute store. The builder makes a few hundred model
objects and spans per sheet, so that was a sixth of building.

`shadow(cls)` is a twin of `cls`: the same base and the same slots, an `__init__` of the
same parameters and defaults that stores each field as a plain attribute, then turns the
object into a `cls` (`__class__` assignment, allowed between classes of the same layout).
The object made is a `cls` in every way (type, fields, repr, equality, hash, pickling):
only the way its slots were filled differs. A class the twin cannot stand for (a field
with a default factory, a `__post_init__`, an own `__init__`, not slotted) is returned as
it is. `tests/test_build_shadow.py` compares both ways of making every model class.
"""

from __future__ import annotations

import dataclasses
import types
from typing import Any, TypeVar

T = TypeVar("T")

_TEMPLATES: dict[int, types.CodeType] = {}


def _template(count: int) -> types.CodeType:
    """`def __init__(self, _p0, …): self._a0 = _p0; …; self.__class__ = _REAL`, compiled once per count."""
    found = _TEMPLATES.get(count)
    if found is None:
        params = "".join(f", _p{index}" for index in range(count))
        body = "".join(f"    self._a{index} = _p{index}\n" for index in range(count))
        source = f"def __init__(self{params}):\n{body}    self.__class__ = _REAL\n"
        module = compile(source, f"<shadow __init__ of {count} fields>", "exec")
        found = _TEMPLATES[count] = next(c for c in module.co_consts if isinstance(c, types.CodeType))
    return found


def shadow(cls: type[T]) -> type[T]:
    """A class whose calls make `cls` objects, each field stored as a plain attribute (see the module)."""
    fields = getattr(cls, "__dataclass_fields__", None)
    slots = cls.__dict__.get("__slots__")
    if (fields is None or slots is None or type(cls) is not type or cls.__dictoffset__ or hasattr(cls, "__post_init__")
            or getattr(cls.__init__, "__code__", None) is None):
        return cls
    values = list(fields.values())
    defaults: list[Any] = []
    for f in values:
        if f.default_factory is not dataclasses.MISSING or not f.init:
            return cls
        if f.default is not dataclasses.MISSING:
            defaults.append(f.default)
    names = tuple(f.name for f in values)
    if cls.__init__.__code__.co_varnames[1:len(names) + 1] != names:
        return cls  # an `__init__` of other parameters than the fields
    template = _template(len(names))
    renamed = {f"_a{index}": name for index, name in enumerate(names)}
    code = template.replace(co_varnames=("self", *names), co_names=tuple(renamed.get(n, n) for n in template.co_names),
                            co_qualname=f"{cls.__qualname__}.__init__")
    init = types.FunctionType(code, {"_REAL": cls, "__builtins__": {}}, "__init__", tuple(defaults) or None)
    base = cls.__base__
    assert base is not None
    # the base's frozen `__setattr__` would refuse the stores: the twin stores as `object` does (both
    # methods: they share one slot, which is `object`'s own C function only when neither is overridden)
    namespace = {"__slots__": slots, "__init__": init, "__setattr__": object.__setattr__,
                 "__delattr__": object.__delattr__}
    twin: type[T] = type(cls.__name__, (base,), namespace)
    return twin


class Makers:
    """A module's classes as their twins (`shadow`), each made on first use: `Makers(model).Text(...)`."""

    def __init__(self, module: types.ModuleType) -> None:
        self._module = module

    def __getattr__(self, name: str) -> Any:
        made = shadow(getattr(self._module, name))
        setattr(self, name, made)  # later lookups find it without `__getattr__`
        return made
