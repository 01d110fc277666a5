"""`records.frozen` makes the class `dataclasses.dataclass(frozen=True, ...)` would make.

Each module that uses `frozen` is executed a second time with `frozen` replaced by
`dataclasses.dataclass`, and every class of the two copies is compared: fields, signature,
repr, equality, hash, ordering, pickling, frozenness.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import importlib
import inspect
import pickle
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest

from compiler import diagnostics, records
from compiler.records import frozen

MODULES = ["compiler.source", "compiler.model", "compiler.diagnostics", "compiler.thresholds", "compiler.dosing",
           "compiler.arms", "compiler.modification", "compiler.radiobiology", "compiler.tables", "compiler.labs",
           "compiler.conditions", "compiler.checks", "compiler.checks.dose", "compiler.checks.dose_context", "compiler.checks.dosed",
           "compiler.checks.phases",
           "compiler.checks.combinations", "compiler.checks.combination_facts", "compiler.checks.combinations_supportive",
           "compiler.checks.combinations_targets", "compiler.checks.schedule", "compiler.checks.schedule_label",
           "compiler.checks.radiotherapy", "compiler.checks.radiotherapy_sib_oar",
           "compiler.pipeline", "compiler.parse", "compiler.build",
           "compiler.bookconfig", "compiler.overrides", "compiler.cache", "compiler.versions",
           "compiler.versions.register", "compiler.versions.transaction"]


def _reference(cls: Any = None, /, *, slots: bool = False, order: bool = False) -> Any:
    def wrap(klass: type) -> type:
        return dataclasses.dataclass(klass, frozen=True, slots=slots, order=order)
    return wrap if cls is None else wrap(cls)


def _reference_module(name: str, monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """The module executed again (under its own name, as dataclasses needs) with `dataclass` for `frozen`."""
    module = importlib.import_module(name)
    spec = module.__spec__
    assert spec is not None and spec.loader is not None
    copy = types.ModuleType(name)
    copy.__dict__.update(__file__=module.__file__, __package__=module.__package__, __spec__=spec)
    monkeypatch.setattr(records, "frozen", _reference)
    monkeypatch.setattr(diagnostics, "REGISTRY", {})  # the copy of a check module registers its rules again
    monkeypatch.setitem(sys.modules, name, copy)
    exec(spec.loader.get_code(name), copy.__dict__)  # type: ignore[attr-defined]
    return copy


def _made_by_frozen(module: types.ModuleType) -> Iterator[tuple[str, type]]:
    for name, value in vars(module).items():
        if isinstance(value, type) and value.__module__ == module.__name__ and dataclasses.is_dataclass(value):
            params = value.__dataclass_params__  # type: ignore[attr-defined]
            if params.frozen:
                yield name, value


def _fast(cls: type) -> bool:
    """Made by the fast path (its `__init__` is a renamed template), not handed to dataclasses."""
    return bool(vars(cls)["__init__"].__code__.co_filename.startswith("<frozen"))


def _samples(cls: type, tag: str) -> list[Any]:
    """Instances with every field set to a distinct plain value (the classes do not check types)."""
    fields = [f for f in dataclasses.fields(cls) if f.init]
    base = {f.name: f"{tag}{index}" for index, f in enumerate(fields)}
    variants = [base] + [{**base, f.name: f"{tag}{index}~"} for index, f in enumerate(fields)]
    return [cls(**values) for values in variants]


def _behaviour(cls: type) -> dict[str, Any]:
    fields = dataclasses.fields(cls)
    out: dict[str, Any] = {
        "fields": [(f.name, f.type, repr(f.default), getattr(f.default_factory, "__qualname__", None), f.init,
                    f.repr, f.compare, f.hash, f.kw_only, f.metadata) for f in fields],
        "signature": str(inspect.signature(cls)),
        "attributes": sorted(vars(cls)),
        "match_args": getattr(cls, "__match_args__", None),
        "slots": cls.__dict__.get("__slots__"),
        "doc": cls.__doc__,
        "params": {name: getattr(cls.__dataclass_params__, name)  # type: ignore[attr-defined]
                   for name in type(cls.__dataclass_params__).__slots__},  # type: ignore[attr-defined]
        "weakref": hasattr(cls, "__weakref__"),
        "dict": "__dict__" in dir(cls),
        "order": all(name in cls.__dict__ for name in ("__lt__", "__le__", "__gt__", "__ge__")),
    }
    try:
        samples = _samples(cls, "x")
    except TypeError as error:  # a __post_init__ that needs real values
        out["samples"] = str(error)
        return out
    others = _samples(cls, "x")
    out["repr"] = [repr(s) for s in samples]
    out["eq"] = [[a == b for b in others] for a in samples]
    out["hash"] = [hash(s) if type(s).__hash__ is not None else None for s in samples]
    if out["order"]:
        out["lt"] = [[a < b for b in others] for a in samples]
    if "<locals>" not in cls.__qualname__:
        out["pickle"] = [pickle.loads(pickle.dumps(s)) == s for s in samples]
    out["state"] = [s.__getstate__() if "__getstate__" in type(s).__dict__ else None for s in samples]
    out["copies"] = [(repr(copy.copy(s)), repr(copy.deepcopy(s)), repr(dataclasses.replace(s)), dataclasses.asdict(s),
                      copy.copy(s) == s, copy.deepcopy(s) == s) for s in samples]
    out["frozen"] = _frozen_errors(samples[0])
    return out


def _frozen_errors(obj: Any) -> list[str]:
    errors = []
    actions: list[Callable[[], None]] = [lambda: setattr(obj, "zz", 1), lambda: delattr(obj, "zz")]
    actions += [functools.partial(setattr, obj, f.name, 1) for f in dataclasses.fields(obj)]
    for action in actions:
        try:
            action()
            errors.append("allowed")
        except (dataclasses.FrozenInstanceError, AttributeError, TypeError) as error:
            errors.append(type(error).__name__)
    return errors


@pytest.mark.parametrize("name", MODULES)
def test_module_classes_match_dataclasses(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    module = importlib.import_module(name)
    fast = [class_name for class_name, cls in _made_by_frozen(module) if _fast(cls)]
    got = {class_name: _behaviour(getattr(module, class_name)) for class_name in fast}
    reference = _reference_module(name, monkeypatch)  # pickling finds this copy's classes from here on
    expected = {class_name: _behaviour(getattr(reference, class_name)) for class_name in fast}
    for class_name in fast:
        # a slots dataclass's frozen __setattr__ compares with the class before slots (a TypeError for an
        # unknown name); ours raises FrozenInstanceError, as the non-slots dataclass does
        if got[class_name]["slots"] is not None:
            got[class_name].pop("frozen"), expected[class_name].pop("frozen")
        assert got[class_name] == expected[class_name], class_name


@pytest.mark.skipif(not records.FAST, reason="this Python's dataclasses differ from what the fast path makes")
def test_model_uses_the_fast_path() -> None:
    from compiler import model
    slow = [name for name, cls in _made_by_frozen(model) if not _fast(cls)]
    assert slow == []


def _both(body: Callable[[Callable[..., Any]], type], **options: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    return _behaviour(body(frozen(**options))), _behaviour(body(_reference(**options)))


def test_defaults_factories_and_field_options() -> None:
    def body(decorator: Callable[..., Any]) -> type:
        @decorator
        class Shape:
            """A shape."""

            a: int
            b: str = "b"
            c: tuple[int, ...] = dataclasses.field(default_factory=tuple)
            d: Any = dataclasses.field(default=None, repr=False)
            e: Any = dataclasses.field(default=None, compare=False)
            f: Any = dataclasses.field(default=None, hash=False)
        return Shape
    for options in ({}, {"slots": True}, {"order": True}, {"slots": True, "order": True}):
        got, expected = _both(body, **options)
        if options.get("slots"):
            got.pop("frozen"), expected.pop("frozen")
        assert got == expected


def test_inheritance_post_init_and_no_docstring() -> None:
    def body(decorator: Callable[..., Any]) -> type:
        @decorator
        class Base:
            span: Any
            children: tuple[Any, ...]

        @decorator
        class Leaf(Base):
            text: str
            refs: tuple[Any, ...] = ()

            def __post_init__(self) -> None:
                object.__setattr__(self, "refs", (*self.refs, "seen"))
        return Leaf
    for options in ({}, {"slots": True}):
        got, expected = _both(body, **options)
        if options.get("slots"):
            got.pop("frozen"), expected.pop("frozen")
        assert got == expected


def test_methods_the_class_defines_stay() -> None:
    @frozen(slots=True)
    class Custom:
        """Custom methods."""

        a: int

        def __repr__(self) -> str:
            return "custom"

        def __eq__(self, other: object) -> bool:
            return True

        def __hash__(self) -> int:
            return 7
    assert repr(Custom(1)) == "custom" and Custom(1) == Custom(2) and hash(Custom(1)) == 7


def test_what_the_fast_path_leaves_to_dataclasses() -> None:
    @frozen
    class WithClassVar:
        """A class variable."""

        limit: ClassVar[int] = 3
        a: int
    assert [f.name for f in dataclasses.fields(WithClassVar)] == ["a"] and WithClassVar.limit == 3
    with pytest.raises(ValueError, match="mutable default"):
        @frozen
        class Mutable:
            a: list[int] = []  # noqa: RUF012
    with pytest.raises(TypeError, match="non-default argument 'b' follows default argument"):
        @frozen
        class Order:
            a: int = 1
            b: int  # type: ignore[misc]


def test_errors_read_as_dataclasses_write_them() -> None:
    from compiler.source import Span
    span = Span("f", 1, 2, 3, 4)
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'line'"):
        span.line = 2  # type: ignore[misc]
    with pytest.raises(TypeError, match=r"Span.__init__\(\) missing 1 required positional argument: 'end_column'"):
        Span("f", 1, 2, 3)  # type: ignore[call-arg]
    assert dataclasses.replace(span, line=2) == Span("f", 2, 2, 3, 4)
    assert dataclasses.asdict(span) == {"file": "f", "line": 1, "column": 2, "end_line": 3, "end_column": 4}
    assert sorted([Span("f", 2, 1, 2, 2), span]) == [span, Span("f", 2, 1, 2, 2)]


def test_an_inherited_class_attribute_is_the_default() -> None:
    # dataclasses reads a field's default with getattr: a field declared again without a value keeps
    # the base's default, and a plain base class's attribute of that name is one too
    def body(decorator: Callable[..., Any]) -> type:
        class Mixin:
            b = 5

        @decorator
        class Base:
            a: int = 1

        @decorator
        class Again(Base, Mixin):
            a: int
            b: int
        return Again
    got, expected = _both(body)
    assert got == expected
    assert repr(body(frozen)()).endswith("Again(a=1, b=5)")


def test_nan_and_signed_zero_compare_as_dataclasses_compare_them() -> None:
    # dataclasses (3.11, 3.12) compare tuples of the fields: a NaN field equals itself by identity
    nan = float("nan")

    def facts(decorator: Callable[..., Any]) -> list[Any]:
        @decorator
        class Dose:
            amount: float
            unit: str = "mg"
        same, other = Dose(nan), Dose(float("nan"))
        return [same == Dose(nan), same == other, Dose(0.0) == Dose(-0.0), hash(Dose(0.0)) == hash(Dose(-0.0)),
                hash(same) == hash(Dose(nan)), same != Dose(nan)]
    for options in ({}, {"slots": True}, {"order": True}):
        assert facts(frozen(**options)) == facts(_reference(**options))
