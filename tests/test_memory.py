"""memory.fast_init: the model's constructors without object.__setattr__ build what dataclasses'
own constructors build, and leave the classes it cannot speak for alone."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
from dataclasses import dataclass, field

import pytest

from kubechain import model
from kubechain.memory import fast_init
from kubechain.model import Counters, Jump, Negatable, Rule, Table


def _model_classes() -> list[type]:
    return [c for c in vars(model).values() if isinstance(c, type) and c.__module__ == model.__name__
            and dataclasses.is_dataclass(c) and c.__dataclass_params__.frozen]  # type: ignore[attr-defined]


@pytest.mark.parametrize("cls", _model_classes(), ids=lambda c: c.__name__)
def test_every_model_class_has_the_fast_constructor_with_its_own_signature(cls: type) -> None:
    assert cls.__init__.__code__.co_filename == "<string>", "fast_init did not replace this constructor"
    params = list(inspect.signature(cls.__init__).parameters)[1:]
    assert params == [f.name for f in dataclasses.fields(cls)]


def test_fields_defaults_and_keywords_are_set_as_given() -> None:
    target = Jump("KUBE-SEP-A", goto=True)
    rule = Rule(target, (), Negatable("tcp"), line=7, counters=Counters(3, 180))
    assert (rule.target, rule.protocol, rule.line, rule.counters, rule.source, rule.handle) == (
        target, Negatable("tcp"), 7, Counters(3, 180), None, None)
    assert dataclasses.replace(rule, line=9).line == 9 and dataclasses.replace(rule, line=9) == rule
    assert pickle.loads(pickle.dumps(rule)) == rule


def test_still_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Jump("X").chain = "Y"  # type: ignore[misc]


def test_a_default_factory_makes_a_fresh_value_each_time() -> None:
    a, b = Table("nat"), Table("nat")
    assert a.chains == {} and a.chains is not b.chains and a.sets is not b.sets


def test_a_local_class_behaves_as_dataclasses_built_it() -> None:
    @dataclass(frozen=True, slots=True)
    class Plain:
        a: int
        b: list[int] = field(default_factory=list)
        c: str = "c"

    original = Plain(1, c="x")
    fast = fast_init(Plain)(1, c="x")
    assert fast == original and fast.b == [] and fast.b is not fast_init(Plain)(2).b
    with pytest.raises(TypeError):
        fast_init(Plain)()  # type: ignore[call-arg]


def test_classes_it_cannot_speak_for_keep_their_own_constructor() -> None:
    @dataclass(frozen=True, slots=True)
    class Checked:
        a: int

        def __post_init__(self) -> None:
            if self.a < 0:
                raise ValueError("negative")

    @dataclass(frozen=True)
    class Unslotted:
        a: int = 0

    for cls in (Checked, Unslotted):
        own = cls.__init__
        assert fast_init(cls).__init__ is own
    with pytest.raises(ValueError):
        Checked(-1)
