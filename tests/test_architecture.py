"""The package's shape: the import contracts of pyproject.toml hold, no module reaches itself through its imports,
and the helpers shared across layers keep their promises."""

from __future__ import annotations

import dataclasses
import pickle
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

from cartloader.engine.pipeline import first_cause
from cartloader.models import Outcome, RecordError

ROOT = Path(__file__).resolve().parent.parent


def test_the_import_contracts_in_pyproject_hold() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint_imports)], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_no_module_of_the_package_imports_itself_through_a_cycle() -> None:
    graph = grimp.build_graph("cartloader")
    cycles = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            if imported != module and graph.chain_exists(importer=imported, imported=module):
                cycles.append(f"{module} -> {imported}")
    assert cycles == []


def test_first_cause_is_the_first_error_and_keeps_the_others_in_its_notes() -> None:
    first, second, third = ValueError("first"), KeyError("second"), OSError("third")
    group = BaseExceptionGroup("run", [BaseExceptionGroup("inner", [first, second]), third])
    cause = first_cause(group)
    assert cause is first
    assert cause.__notes__ == ["also raised: KeyError: 'second'", "also raised: OSError: third"]


@pytest.mark.parametrize(
    ("cls", "args", "kwargs"),
    [
        (Outcome, (3, "failed", "k"), {"error": RecordError("X", "m"), "attempts": 2, "duplicate_risk": True}),
    ],
)
def test_fast_init_classes_build_like_their_dataclass_and_stay_frozen(
    cls: type, args: tuple[object, ...], kwargs: dict[str, object]
) -> None:
    instance = cls(*args, **kwargs)
    names = [field.name for field in dataclasses.fields(cls)]
    given = dict(zip(names, args, strict=False)) | kwargs
    defaults = {f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING}
    assert {name: getattr(instance, name) for name in names} == defaults | given
    with pytest.raises(dataclasses.FrozenInstanceError):
        instance.__setattr__(names[0], None)
    assert dataclasses.replace(instance) == instance
    assert pickle.loads(pickle.dumps(instance)) == instance
    with pytest.raises(TypeError):
        cls()
