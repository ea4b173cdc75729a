"""Fast construction of the frozen slotted dataclass made once per record (``Outcome``).

A frozen dataclass's generated ``__init__`` stores every field through ``object.__setattr__(self, name, value)``;
calling each slot's own descriptor setter instead builds the instance in about half the time. The class stays
frozen to its users: assignment still raises ``FrozenInstanceError``, and equality, hashing, ``repr``,
``dataclasses.replace`` and pickling are the dataclass's own.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")


def fast_init(cls: type[T]) -> type[T]:
    """Give the frozen slotted dataclass ``cls`` an ``__init__`` with the same parameters and defaults that
    stores each field through its slot's setter. Apply it above ``@dataclass(frozen=True, slots=True)``."""
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    outer: list[str] = []
    values: list[Any] = []
    params: list[str] = []
    body: list[str] = []
    for field in fields:
        if field.default_factory is not dataclasses.MISSING or not field.init or field.kw_only:
            raise TypeError(f"fast_init supports plain positional fields only, not {cls.__name__}.{field.name}")
        setter = cls.__dict__[field.name].__set__
        outer.append(f"_set_{field.name}")
        values.append(setter)
        if field.default is dataclasses.MISSING:
            params.append(field.name)
        else:
            outer.append(f"_default_{field.name}")
            values.append(field.default)
            params.append(f"{field.name}=_default_{field.name}")
        body.append(f"        _set_{field.name}(self, {field.name})")
    # Setters and defaults reach the generated __init__ as closure cells, read faster than globals.
    source = (
        f"def _make({', '.join(outer)}):\n"
        f"    def __init__(self, {', '.join(params)}):\n" + "\n".join(body) + "\n"
        "    return __init__\n"
    )
    namespace: dict[str, Any] = {}
    exec(source, namespace)  # the same technique dataclasses itself uses to build __init__
    init = namespace["_make"](*values)
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    setattr(cls, "__init__", init)  # noqa: B010 - mypy refuses assigning a method
    return cls
