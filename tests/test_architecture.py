"""The package's shape: the import contracts of pyproject.toml hold, no module reaches itself through its imports,
and the helpers shared across layers keep their promises."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
import re
import subprocess
import sys
import typing
from pathlib import Path

import grimp
import pytest

import cartloader
from cartloader.engine.pipeline import first_cause
from cartloader.models import Outcome, RecordError

ROOT = Path(__file__).resolve().parent.parent
# Names imported only for type checking (LoaderMetrics takes a CartLoader) resolve among the exports.
_PUBLIC = dict(vars(cartloader))


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


def _cartloader_types(annotation: object) -> set[type]:
    """The cartloader classes an annotation names, through unions, generics and aliases."""
    found: set[type] = set()
    if isinstance(annotation, type) and annotation.__module__.startswith("cartloader"):
        found.add(annotation)
    for argument in typing.get_args(annotation):
        found |= _cartloader_types(argument)
    origin = typing.get_origin(annotation)
    if origin is not None and origin is not annotation:
        found |= _cartloader_types(origin)
    return found


def _public_signatures() -> dict[str, set[type]]:
    """For each public function, method, property and dataclass field of what ``cartloader`` exports: the
    cartloader types its annotations (parameters and return) name."""
    signatures: dict[str, set[type]] = {}
    for name in cartloader.__all__:
        exported = getattr(cartloader, name)
        if inspect.isfunction(exported):
            hints = typing.get_type_hints(exported, localns=_PUBLIC)
            signatures[name] = set().union(*map(_cartloader_types, hints.values()))
            continue
        if not isinstance(exported, type):  # an alias (Settled)
            signatures[name] = _cartloader_types(exported)
            continue
        if dataclasses.is_dataclass(exported):
            for field in dataclasses.fields(exported):
                signatures[f"{name}.{field.name}"] = _cartloader_types(
                    typing.get_type_hints(exported, localns=_PUBLIC)[field.name]
                )
        for owner in exported.__mro__:
            if not owner.__module__.startswith("cartloader"):
                continue
            for attribute, value in vars(owner).items():
                if attribute.startswith("_") and attribute != "__init__":
                    continue
                function = value.fget if isinstance(value, property) else value
                if not inspect.isfunction(function) or (attribute == "__init__" and dataclasses.is_dataclass(owner)):
                    continue
                hints = typing.get_type_hints(function, localns=_PUBLIC)
                signatures.setdefault(f"{name}.{attribute}", set().union(*map(_cartloader_types, hints.values())))
    return signatures


def test_no_public_signature_names_a_type_of_the_engine() -> None:
    leaks = [
        f"{where}: {kind.__module__}.{kind.__qualname__}"
        for where, kinds in sorted(_public_signatures().items())
        for kind in kinds
        if kind.__module__.startswith("cartloader.engine")
    ]
    assert leaks == []


def test_the_loaders_entry_points_name_only_exported_types() -> None:
    # What the command line needs from a CartLoader (load, preflight, statistics) is public API: a user embedding
    # cartloader can name every type it takes or gives.
    exported = {getattr(cartloader, name) for name in cartloader.__all__}
    entry_points = ("CartLoader", "LoadProgress", "OutcomeStream", "bulk_create")
    signatures = _public_signatures()
    assert {"CartLoader.load", "CartLoader.preflight", "CartLoader.statistics", "LoadProgress.summary"} <= set(
        signatures
    )
    leaks = [
        f"{where}: {kind.__module__}.{kind.__qualname__}"
        for where, kinds in sorted(signatures.items())
        if where.split(".")[0] in entry_points
        for kind in kinds
        if kind not in exported
    ]
    assert leaks == []


def test_the_command_line_uses_nothing_private_of_the_library() -> None:
    # ruff's SLF001 (private member access), selected for cartloader/cli/ in pyproject.toml: the command line
    # is a client of the public API, as a user embedding cartloader is.
    ruff = Path(sys.executable).parent / "ruff"
    command = [str(ruff), "check", "--no-cache", "--select", "SLF001", "cartloader/cli"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


MAX_MODULE_LINES = 450


def oversized_modules(package: Path, limit: int = MAX_MODULE_LINES) -> list[str]:
    """The modules under ``package`` longer than ``limit`` lines, as ``path: lines``."""
    found = []
    for path in sorted(package.rglob("*.py")):
        with path.open("rb") as file:
            lines = sum(1 for _ in file)
        if lines > limit:
            found.append(f"{path.relative_to(package.parent)}: {lines}")
    return found


def test_no_module_of_the_package_is_over_450_lines() -> None:
    # One job per module: a module past this size holds several (the simulator included). Split it along its jobs.
    assert oversized_modules(ROOT / "cartloader") == []


def test_the_module_size_check_names_a_module_over_the_limit(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "small.py").write_text("x = 1\n" * 450)
    (package / "sub" / "big.py").write_text("x = 1\n" * 451)
    assert oversized_modules(package) == ["pkg/sub/big.py: 451"]


def _folder_paragraphs(doc: str) -> dict[str, str]:
    """The paragraphs of the "## The folders" section of architecture.md, by the folder their bold heading names
    (``**`input/`**`` -> ``input``; a heading naming no folder, the package's own modules: ``""``)."""
    section = doc.split("\n## The folders\n", 1)[1].split("\n## ", 1)[0]
    paragraphs: dict[str, str] = {}
    for paragraph in section.split("\n\n"):
        heading = re.match(r"\*\*(.+?)\*\*", paragraph.strip())
        if heading is None:
            continue
        folder = re.search(r"`([\w/]+)/`", heading.group(1))
        paragraphs[folder.group(1) if folder else ""] = paragraph
    return paragraphs


def modules_not_named(package: Path, doc: str) -> list[str]:
    """The modules of ``package`` (but ``__init__.py`` and ``__main__.py``) that the paragraph of their top folder
    in ``doc`` does not name as `` `name.py` `` (or by their path in that folder)."""
    paragraphs = _folder_paragraphs(doc)
    missing = []
    for path in sorted(package.rglob("*.py")):
        if path.name in ("__init__.py", "__main__.py"):
            continue
        relative = path.relative_to(package)
        folder = relative.parts[0] if len(relative.parts) > 1 else ""
        named = set(re.findall(r"`([\w/.]+\.py)`", paragraphs.get(folder, "")))
        if not named & {path.name, relative.as_posix(), relative.relative_to(folder).as_posix()}:
            missing.append(relative.as_posix())
    return missing


def test_architecture_md_names_every_module_in_the_paragraph_of_its_folder() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert modules_not_named(ROOT / "cartloader", doc) == []


def test_the_module_names_check_finds_a_module_named_only_in_another_folders_paragraph(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    for path in ("top.py", "__init__.py", "a/__init__.py", "a/reads.py", "a/deep/x.py", "b/reads.py", "b/gone.py"):
        (package / path).parent.mkdir(parents=True, exist_ok=True)
        (package / path).write_text("")
    doc = (
        "# T\n\n## The folders\n\n**`top.py`** the floor.\n\n**`a/`**: `reads.py` reads, `x.py` deep.\n\n"
        "**`b/`**: `gone.py` only.\n\n## Walkthrough\n\n**`b/`**: `reads.py` named outside the section.\n"
    )
    assert modules_not_named(package, doc) == ["b/reads.py"]
