"""`frozen`: frozen dataclasses without a code generator run per class.

`dataclasses.dataclass` compiles six to nine small functions per class (`__init__`,
`__repr__`, `__eq__`, `__hash__`, `__setattr__`, `__delattr__`, the order methods), and
the compiler defines about a hundred frozen dataclasses on the path of one `check`: that
was a sixth of a one-sheet run. `frozen` makes the same class: the same
`__dataclass_fields__` (so `dataclasses.fields`, `replace`, `asdict`, `is_dataclass` work),
the same `repr`, equality, hash, ordering, pickling and `FrozenInstanceError`. Its methods
are closures over `operator.attrgetter` (compiling them cost more per process than they
are called); only `__init__` is compiled, once per shape of fields, and each class gets a
copy with its own parameter names. It sets each slot through its descriptor, cheaper than
`object.__setattr__` (the builder makes thousands of model objects per sheet).

What the fast path does not cover (a mutable base dataclass, `ClassVar`/`InitVar`/`KW_ONLY`,
`kw_only` or `init=False` fields, methods dataclasses would refuse to overwrite) is handed
to `dataclasses.dataclass` unchanged. `tests/test_records.py` compares every class made
here with what `dataclasses.dataclass` makes of it.
"""

from __future__ import annotations

import abc
import builtins
import dataclasses
import inspect
import operator
import reprlib
import sys
import types
from collections.abc import Callable
from typing import Any, Generic, TypeVar, dataclass_transform, overload

T = TypeVar("T")

_FIELD = vars(dataclasses).get("_FIELD")  # the marker `dataclasses.fields` keeps
_HAS_DEFAULT_FACTORY = vars(dataclasses).get("_HAS_DEFAULT_FACTORY")  # `<factory>` in signatures
_PARAMS: Any = vars(dataclasses).get("_DataclassParams")
# the Pythons whose dataclasses make what the fast path makes (3.13 compares fields one by one,
# adds `__replace__`); elsewhere `frozen` is `dataclasses.dataclass`
FAST = sys.version_info[:2] in {(3, 11), (3, 12)} and None not in (_FIELD, _HAS_DEFAULT_FACTORY, _PARAMS)
_MISSING: Any = dataclasses.MISSING
_REFUSED = ("ClassVar", "InitVar", "KW_ONLY")  # annotations the fast path leaves to dataclasses
_TEMPLATES: dict[tuple[int, bool, bool, tuple[bool, ...]], types.CodeType] = {}
_object_setattr = object.__setattr__


@overload
def frozen(cls: type[T], /) -> type[T]: ...


@overload
def frozen(*, slots: bool = False, order: bool = False) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field, dataclasses.Field))
def frozen(cls: type[T] | None = None, /, *, slots: bool = False,
           order: bool = False) -> type[T] | Callable[[type[T]], type[T]]:
    """`@dataclass(frozen=True, slots=..., order=...)`, made without `exec`."""
    def wrap(klass: type[T]) -> type[T]:
        fields = _own_fields(klass, order) if FAST else None
        if fields is None:
            made: type[T] = dataclasses.dataclass(klass, frozen=True, slots=slots, order=order)
            return made
        return _make(klass, fields, slots, order)
    return wrap if cls is None else wrap(cls)


def _own_fields(cls: type, order: bool) -> dict[str, dataclasses.Field[Any]] | None:
    """The class's fields as `dataclasses` records them, or None when the fast path does not apply."""
    namespace = cls.__dict__
    if ("__slots__" in namespace or "__setattr__" in namespace or "__delattr__" in namespace
            or isinstance(cls, abc.ABCMeta)
            or (order and any(name in namespace for name in ("__lt__", "__le__", "__gt__", "__ge__")))):
        return None
    fields: dict[str, dataclasses.Field[Any]] = {}
    for base in cls.__mro__[-1:0:-1]:  # inherited fields first, in the order dataclasses collects them
        inherited = base.__dict__.get("__dataclass_fields__")
        if inherited is not None:
            if not base.__dict__["__dataclass_params__"].frozen:
                return None  # dataclasses refuses a frozen class on a mutable base
            for f in inherited.values():
                if getattr(f, "_field_type", None) is not _FIELD or f.kw_only or not f.init:
                    return None
                fields[f.name] = f
    own: list[tuple[str, Any, dataclasses.Field[Any]]] = []
    for name, annotation in namespace.get("__annotations__", {}).items():
        text = annotation if isinstance(annotation, str) else repr(annotation)
        if name == "self" or any(word in text for word in _REFUSED):
            return None
        if name not in namespace and hasattr(cls, name):
            return None  # dataclasses takes an inherited class attribute as the default (or a slot as none)
        default = namespace.get(name, _MISSING)
        f = default if isinstance(default, dataclasses.Field) else dataclasses.field(default=default)
        if f.kw_only is not _MISSING or not f.init or (f.default is not _MISSING and f.default.__class__.__hash__ is None):
            return None  # dataclasses makes these (or raises its own error for a mutable default)
        own.append((name, annotation, f))
    if any(isinstance(value, dataclasses.Field) and name not in namespace.get("__annotations__", {})
           for name, value in namespace.items()):
        return None  # a field without annotation: dataclasses says so
    for name, annotation, f in own:  # only now: a class handed to dataclasses keeps its `field(...)`s untouched
        f.name, f.type, f.kw_only = name, annotation, False
        setattr(f, "_field_type", _FIELD)  # noqa: B010 (a private marker of dataclasses)
        fields[name] = f
    return fields


def _make(cls: type[T], fields: dict[str, dataclasses.Field[Any]], slots: bool, order: bool) -> type[T]:
    names = tuple(fields)
    if slots:
        namespace = dict(cls.__dict__)
        for name in (*names, "__dict__", "__weakref__"):
            namespace.pop(name, None)
        inherited = {slot for base in cls.__mro__[1:-1] for slot in _slots(base)}
        namespace["__slots__"] = tuple(name for name in names if name not in inherited)
        qualname = cls.__qualname__
        metaclass: Any = type(cls)
        cls = metaclass(cls.__name__, cls.__bases__, namespace)
        cls.__qualname__ = qualname
    else:
        for name, f in fields.items():  # as dataclasses does: a `field(...)` leaves its default, or nothing
            if isinstance(cls.__dict__.get(name), dataclasses.Field):
                if f.default is _MISSING:
                    delattr(cls, name)
                else:
                    setattr(cls, name, f.default)
    class_hash = cls.__dict__.get("__hash__", _MISSING)
    setattr(cls, "__dataclass_params__", _params(order, slots))  # noqa: B010
    setattr(cls, "__dataclass_fields__", fields)  # noqa: B010
    compared = tuple(f.name for f in fields.values() if f.compare)
    methods: dict[str, Any] = {"__init__": _init(cls, fields, slots),
                               "__repr__": _repr(tuple(f.name for f in fields.values() if f.repr)),
                               "__eq__": _eq(_tuple_of(compared))}
    if order:
        methods.update(_order(_tuple_of(compared)))
    if slots:
        methods.update(__getstate__=_getstate(_tuple_of(names)), __setstate__=_setstate(names))
    for name, method in methods.items():  # as dataclasses does, a method the class defines stays
        if name not in cls.__dict__:
            _set_method(cls, name, method)
    if "__match_args__" not in cls.__dict__:
        setattr(cls, "__match_args__", names)  # noqa: B010
    _set_method(cls, "__setattr__", _frozen_setattr(cls, names))
    _set_method(cls, "__delattr__", _frozen_delattr(cls, names))
    if class_hash is _MISSING or (class_hash is None and "__eq__" in cls.__dict__):
        hashed = tuple(f.name for f in fields.values() if (f.compare if f.hash is None else f.hash))
        _set_method(cls, "__hash__", _hash(_tuple_of(hashed)))
    if not cls.__doc__:
        cls.__doc__ = cls.__name__ + str(inspect.signature(cls)).replace(" -> None", "")
    return cls


def _slots(cls: type) -> tuple[str, ...]:
    slots = cls.__dict__.get("__slots__", ())
    return (slots,) if isinstance(slots, str) else tuple(slots)


def _set_method(cls: type, name: str, function: Any) -> None:
    function.__qualname__ = f"{cls.__qualname__}.{name}"
    setattr(cls, name, function)


def _params(order: bool, slots: bool) -> Any:
    """The `__dataclass_params__` of `dataclass(frozen=True, ...)` (its fields vary by Python version)."""
    given = {"init": True, "repr": True, "eq": True, "order": order, "frozen": True, "match_args": True, "slots": slots}
    return _PARAMS(**{name: given.get(name, False) for name in _PARAMS.__slots__})


def _tuple_of(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """The named attributes as a tuple, whatever their number (`attrgetter` of one name is not a tuple)."""
    if len(names) > 1:
        return operator.attrgetter(*names)
    if names:
        one = operator.attrgetter(names[0])
        return lambda self: (one(self),)
    return lambda self: ()


def _init(cls: type, fields: dict[str, dataclasses.Field[Any]], slots: bool) -> Any:
    """`__init__`: the template for this shape of fields, its parameters renamed to the fields."""
    values = list(fields.values())
    defaults: list[Any] = []
    namespace: dict[str, Any] = {"__builtins__": builtins, "__name__": cls.__module__,
                                 "_FACTORY": _HAS_DEFAULT_FACTORY, "_setattr": _object_setattr}
    for index, f in enumerate(values):
        if f.default is not _MISSING or f.default_factory is not _MISSING:
            defaults.append(f.default if f.default_factory is _MISSING else _HAS_DEFAULT_FACTORY)
        elif defaults:
            raise TypeError(f"non-default argument {f.name!r} follows default argument")
        namespace[f"_s{index}"] = getattr(cls, f.name).__set__ if slots else f.name
        namespace[f"_f{index}"] = f.default_factory
    factories = tuple(f.default_factory is not _MISSING for f in values)
    template = _template(len(values), slots, hasattr(cls, "__post_init__"), factories)
    code = template.replace(co_varnames=("self", *fields), co_qualname=f"{cls.__qualname__}.__init__")
    init = types.FunctionType(code, namespace, "__init__", tuple(defaults) or None)
    init.__annotations__ = {**{f.name: f.type for f in values}, "return": None}
    return init


def _template(count: int, slots: bool, post_init: bool, factories: tuple[bool, ...]) -> types.CodeType:
    """The compiled `__init__` for `count` fields, parameters `_p0`, `_p1`… (what dataclasses generates).

    Each shape is compiled once per process; every class of that shape gets a copy of the
    code with its own parameter names.
    """
    key = (count, slots, post_init, factories)
    if key not in _TEMPLATES:
        lines = []
        for index, factory in enumerate(factories):
            value = f"_f{index}() if _p{index} is _FACTORY else _p{index}" if factory else f"_p{index}"
            lines.append(f"    _s{index}(self, {value})" if slots else f"    _setattr(self, _s{index}, {value})")
        if post_init:
            lines.append("    self.__post_init__()")
        params = "".join(f", _p{index}" for index in range(count))
        source = f"def __init__(self{params}):\n" + "\n".join(lines or ["    pass"]) + "\n"
        module = compile(source, f"<frozen __init__ of {count} fields>", "exec")
        _TEMPLATES[key] = next(c for c in module.co_consts if isinstance(c, types.CodeType))
    return _TEMPLATES[key]


def _repr(names: tuple[str, ...]) -> Callable[[Any], str]:
    labels = tuple(f"{name}=" for name in names)
    values = _tuple_of(names)

    @reprlib.recursive_repr()  # what dataclasses does too: `...` for an object inside itself
    def __repr__(self: Any) -> str:
        shown = ", ".join([label + repr(value) for label, value in zip(labels, values(self), strict=True)])
        return f"{self.__class__.__qualname__}({shown})"
    return __repr__


def _eq(key: Callable[[Any], tuple[Any, ...]]) -> Callable[[Any, Any], Any]:
    def __eq__(self: Any, other: Any) -> Any:
        if other.__class__ is self.__class__:
            return key(self) == key(other)
        return NotImplemented
    return __eq__


def _order(key: Callable[[Any], tuple[Any, ...]]) -> dict[str, Callable[[Any, Any], Any]]:
    def __lt__(self: Any, other: Any) -> Any:
        return key(self) < key(other) if other.__class__ is self.__class__ else NotImplemented

    def __le__(self: Any, other: Any) -> Any:
        return key(self) <= key(other) if other.__class__ is self.__class__ else NotImplemented

    def __gt__(self: Any, other: Any) -> Any:
        return key(self) > key(other) if other.__class__ is self.__class__ else NotImplemented

    def __ge__(self: Any, other: Any) -> Any:
        return key(self) >= key(other) if other.__class__ is self.__class__ else NotImplemented
    return {"__lt__": __lt__, "__le__": __le__, "__gt__": __gt__, "__ge__": __ge__}


def _hash(key: Callable[[Any], tuple[Any, ...]]) -> Callable[[Any], int]:
    def __hash__(self: Any) -> int:
        return hash(key(self))
    return __hash__


def _frozen_setattr(owner: type[Any], names: tuple[str, ...]) -> Callable[[Any, str, Any], None]:
    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is owner or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
        super(owner, self).__setattr__(name, value)
    return __setattr__


def _frozen_delattr(owner: type[Any], names: tuple[str, ...]) -> Callable[[Any, str], None]:
    def __delattr__(self: Any, name: str) -> None:
        if type(self) is owner or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
        super(owner, self).__delattr__(name)
    return __delattr__


def _getstate(values: Callable[[Any], tuple[Any, ...]]) -> Callable[[Any], list[Any]]:
    def __getstate__(self: Any) -> list[Any]:
        return list(values(self))  # the list `dataclasses` pickles for a frozen slots class
    return __getstate__


def _setstate(names: tuple[str, ...]) -> Callable[[Any, list[Any]], None]:
    def __setstate__(self: Any, state: list[Any]) -> None:
        for name, value in zip(names, state):  # noqa: B905 (dataclasses zips the same way)
            _object_setattr(self, name, value)
    return __setstate__


Answer = TypeVar("Answer")


class IdentityMemo(Generic[Answer]):
    """Answers about particular frozen objects (a line, a regimen and its phase), found by identity.

    A frozen record never changes, so an answer about it holds as long as it lives; hashing it
    by value would cost more than the answer. Each entry keeps its objects, so their ids are not
    given to other objects while it is kept; at most `limit` entries (a few sheets' worth), then
    the memo is emptied before it takes more.
    """

    __slots__ = ("_known", "_limit")

    def __init__(self, limit: int) -> None:
        self._known: dict[tuple[int, ...], tuple[tuple[object, ...], Answer]] = {}
        self._limit = limit

    def answer(self, about: tuple[object, ...], compute: Callable[[], Answer]) -> Answer:
        """The answer kept about exactly these objects, else `compute()`, kept."""
        key = tuple(map(id, about))
        known = self._known.get(key)
        if known is None or any(kept is not given for kept, given in zip(known[0], about, strict=True)):
            if len(self._known) >= self._limit:
                self._known.clear()
            known = self._known[key] = (about, compute())
        return known[1]

    def clear(self) -> None:
        """Forget every answer (and let go of the objects they were about)."""
        self._known.clear()
