"""Cheaper construction of the model's frozen slot classes, for the builder.

A frozen class made by `records.frozen(slots=True)` sets each field in `__init__` through
its slot descriptor's `__set__`, a method-wrapper call (an argument tuple, unpacked in C)
that costs about ten times a plain attribute store. The builder makes a few hundred model
objects and spans per sheet, so that was a sixth of building.

`shadow(cls)` makes `cls` objects by way of a twin of `cls` (a subclass that adds no slot,
with `object`'s own `__setattr__`): a function of the same parameters and defaults makes
a twin, stores each field as a plain attribute, then turns the object into a `cls`
(`__class__` assignment, allowed between classes of the same layout). No twin outlives
the function that made it.
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
    """`def make(_p0, …): self = _TWIN(); self._a0 = _p0; …; self.__class__ = _REAL; return self`.

    Compiled once per count of fields. A function, not a class with an `__init__`: calling
    a class runs `__init__` through C (`type_call`, `slot_tp_init`), a Python function is
    called by the interpreter directly.
    """
    found = _TEMPLATES.get(count)
    if found is None:
        params = ", ".join(f"_p{index}" for index in range(count))
        body = "".join(f"    self._a{index} = _p{index}\n" for index in range(count))
        source = f"def make({params}):\n    self = _TWIN()\n{body}    self.__class__ = _REAL\n    return self\n"
        module = compile(source, f"<shadow of {count} fields>", "exec")
        found = _TEMPLATES[count] = next(c for c in module.co_consts if isinstance(c, types.CodeType))
    return found


def twin(cls: type) -> type | None:
    """A subclass of `cls` of the same slots that stores as `object` does; None when none can stand for it.

    An object of the twin, its fields stored, becomes a `cls` by `__class__` assignment.
    """
    fields = getattr(cls, "__dataclass_fields__", None)
    slots = cls.__dict__.get("__slots__")
    init = getattr(vars(cls).get("__init__"), "__code__", None)
    if (fields is None or slots is None or type(cls) is not type or cls.__dictoffset__
            or hasattr(cls, "__post_init__") or init is None or not init.co_filename.startswith("<")):
        return None  # not a frozen slotted class with a made `__init__` (the class's own does more)
    if any(f.default_factory is not dataclasses.MISSING or not f.init for f in fields.values()):
        return None
    # A subclass that adds no slot: the same layout, and `__class__` assignment finds the two
    # classes alike without comparing their slots. The class's frozen `__setattr__` would refuse
    # the stores: the twin stores as `object` does (both methods: they share one slot, which is
    # `object`'s own C function only when neither is overridden), and its `__init__` is
    # `object`'s: `twin()` makes an empty object (cheaper than `object.__new__(twin)`).
    return type(cls.__name__, (cls,), {"__slots__": (), "__setattr__": object.__setattr__,
                                       "__delattr__": object.__delattr__, "__init__": object.__init__})


def shadow(cls: type[T]) -> type[T]:
    """A function of the class's parameters that makes `cls` objects, each field stored as a plain attribute.

    Typed as the class, for its parameters (use it to make objects, never in `isinstance`).
    The class itself when no twin can stand for it (see the module).
    """
    made_twin = twin(cls)
    fields = getattr(cls, "__dataclass_fields__", {})
    names = tuple(fields)
    if made_twin is None or vars(cls)["__init__"].__code__.co_varnames[1:len(names) + 1] != names:
        return cls  # no twin, or an `__init__` of other parameters than the fields
    defaults = tuple(f.default for f in fields.values() if f.default is not dataclasses.MISSING)
    template = _template(len(names))
    params = {f"_p{index}": name for index, name in enumerate(names)}
    attributes = {f"_a{index}": name for index, name in enumerate(names)}
    code = template.replace(co_varnames=tuple(params.get(n, n) for n in template.co_varnames),
                            co_names=tuple(attributes.get(n, n) for n in template.co_names),
                            co_name=cls.__name__, co_qualname=cls.__qualname__)
    namespace = {"_TWIN": made_twin, "_REAL": cls, "__builtins__": {}}
    make: type[T] = types.FunctionType(code, namespace, cls.__name__, defaults or None)  # type: ignore[assignment]
    return make


def makers(module: types.ModuleType) -> types.ModuleType:
    """A module of `module`'s classes as `shadow`s, each made on first use: `makers(model).Text(...)`.

    A module, not an object with `__getattr__`: a module asks its `__getattr__` only for a
    name it does not hold (an object's `__getattr__` hook costs on every lookup).
    """
    made = types.ModuleType(f"{module.__name__}:made")

    def __getattr__(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        maker = shadow(getattr(module, name))
        setattr(made, name, maker)  # later lookups find it without `__getattr__`
        return maker

    made.__getattr__ = __getattr__  # type: ignore[method-assign]
    return made
