"""The builder's twins of the model classes (`compiler._shadow`) make the very objects the classes make."""

from __future__ import annotations

import dataclasses
import inspect
import pickle

import pytest

from compiler import model as m
from compiler._shadow import makers, shadow
from compiler.source import Span

CLASSES = [Span, *(c for _, c in inspect.getmembers(m, inspect.isclass)
                   if dataclasses.is_dataclass(c) and c.__module__ == m.__name__)]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_twin_makes_the_same_object(cls: type) -> None:
    fields = dataclasses.fields(cls)
    values = [f"value {index}" for index in range(len(fields))]
    twin = shadow(cls)
    made, expected = twin(*values), cls(*values)
    assert type(made) is cls
    assert repr(made) == repr(expected)
    assert made == expected
    assert hash(made) == hash(expected)
    assert pickle.loads(pickle.dumps(made)) == expected
    assert dataclasses.replace(made) == expected
    required = {f.name: f"v {f.name}" for f in fields
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
    assert repr(twin(**required)) == repr(cls(**required))  # keywords, defaults left out
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(made, fields[0].name, "changed")


def test_most_model_classes_have_a_twin() -> None:
    twins = [cls for cls in CLASSES if shadow(cls) is not cls]
    assert Span in twins and m.Prose in twins and m.DrugLine in twins
    assert len(twins) >= len(CLASSES) - 3


def test_a_class_the_twin_cannot_stand_for_is_kept() -> None:
    @dataclasses.dataclass(frozen=True)
    class Plain:  # no slots: an object with a `__dict__`
        value: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        value: int

        def __post_init__(self) -> None:
            if self.value < 0:
                raise ValueError(self.value)

    assert shadow(Plain) is Plain
    assert shadow(Checked) is Checked
    assert makers(m).Status is m.Status  # not a dataclass


def test_a_class_with_its_own_init_is_kept() -> None:
    @dataclasses.dataclass(frozen=True, slots=True, init=False)
    class Own:
        value: int

        def __init__(self, value: int) -> None:
            object.__setattr__(self, "value", abs(value))

    assert shadow(Own) is Own
