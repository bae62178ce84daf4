"""The import rule of docs/architecture.md, checked on the source (ast, nothing is imported).

Every module of `thinkswitch` belongs to a part (`thinkswitch.<part>...`); parts sit in tiers
from the bottom (the kernel) to the top (the faces). A module may import its own part and any
part of a lower tier, never a peer of its own tier, never a higher one; and no two modules may
import each other, however indirectly (lazy imports inside functions and `TYPE_CHECKING`
imports count: a cycle hidden by a lazy import is still a cycle).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT = "thinkswitch"

#: The layer order, bottom first. `thinkswitch` itself (the public names of `__init__`) and
#: `__main__` are on top. `cli` sits on `server` because `thinkswitch serve` starts it.
TIERS: tuple[frozenset[str], ...] = (
    frozenset({"kernel", "settings"}),
    frozenset({"thinking", "outcomes"}),
    frozenset({"engines", "triage", "trace"}),
    frozenset({"switch"}),
    frozenset({"factory", "config", "bench"}),
    frozenset({"shadow"}),
    frozenset({"server"}),
    frozenset({"cli"}),
    frozenset({"__init__", "__main__"}),
)
#: Faces see the switch's events (the kernel's), never an engine class: of `engines` they may
#: read only the registry (which engines exist) and the replica URL list.
FACES = frozenset({"cli", "server"})
FACE_MAY_READ_OF_ENGINES = frozenset({"thinkswitch.engines.registry", "thinkswitch.engines.pool"})


def tier_of(part: str) -> int:
    for index, parts in enumerate(TIERS):
        if part in parts:
            return index
    raise AssertionError(f"part {part!r} is in no tier: add it to TIERS and docs/architecture.md")


def module_names(src: Path = SRC) -> dict[str, Path]:
    modules = {}
    for path in sorted((src / ROOT).rglob("*.py")):
        parts = path.relative_to(src).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


MODULES = module_names()


def part_of(module: str) -> str:
    if module == ROOT:
        return "__init__"
    return module.split(".")[1]


def imports_of(path: Path, modules: dict[str, Path] = MODULES) -> Iterator[tuple[int, str]]:
    """(line, module) of every project import in the file, resolved to a module where the
    imported name is a submodule (`from thinkswitch.outcomes import metrics`)."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == ROOT:
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] != ROOT:
                continue
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                yield node.lineno, submodule if submodule in modules else node.module


def graph() -> dict[str, set[str]]:
    return {name: {target for _, target in imports_of(path)} - {name}
            for name, path in MODULES.items()}


def test_every_part_is_in_a_tier() -> None:
    for module in MODULES:
        tier_of(part_of(module))


def arrows_against_the_rule(modules: dict[str, Path], src: Path = SRC) -> list[str]:
    wrong = []
    for name, path in modules.items():
        part = part_of(name)
        for line, target in imports_of(path, modules):
            target_part = part_of(target)
            if target_part == part:
                continue
            if tier_of(target_part) >= tier_of(part):
                wrong.append(f"{path.relative_to(src)}:{line}: {part} imports {target}")
            elif part in FACES and target_part == "engines" and \
                    target not in FACE_MAY_READ_OF_ENGINES:
                wrong.append(f"{path.relative_to(src)}:{line}: face {part} imports {target}")
    return wrong


def test_no_import_against_the_layer_order() -> None:
    wrong = arrows_against_the_rule(MODULES)
    assert not wrong, "\n".join(wrong)


def test_package_inits_below_the_top_import_nothing_of_the_project() -> None:
    """Importing `thinkswitch.a.b` runs `thinkswitch/a/__init__.py`: these edges are not
    checked above, so they must not exist (the root package's public names are on top)."""
    busy = [name for name, path in MODULES.items()
            if path.name == "__init__.py" and name != ROOT and any(imports_of(path))]
    assert not busy, busy


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of module names (first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target):], target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_import_cycle_among_the_project_modules() -> None:
    cycle = find_cycle(graph())
    assert cycle is None, " -> ".join(cycle or [])


@pytest.mark.parametrize(("edges", "cyclic"), [
    ({"a": {"b"}, "b": {"c"}, "c": set()}, False),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, True),
    ({"a": {"a"}}, True),
])
def test_the_cycle_finder_finds_cycles(edges: dict[str, set[str]], cyclic: bool) -> None:
    assert (find_cycle(edges) is not None) is cyclic


def test_the_layer_rule_catches_arrows_against_it(tmp_path: Path) -> None:
    """An engine importing the switch, peers importing each other and a face importing an
    engine class are each reported; a switch importing the kernel is not."""
    files = {
        "engines/fast.py": "from thinkswitch.switch.pipeline import Switch\n",
        "triage/peek.py": "def later() -> None:\n    import thinkswitch.trace.store\n",
        "server/face.py": "from thinkswitch.engines import fast\n",
        "switch/pipeline.py": "from thinkswitch.kernel.events import Finish\n",
        "kernel/events.py": "",
    }
    for name, text in files.items():
        (tmp_path / ROOT / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / ROOT / name).write_text(text)
    wrong = arrows_against_the_rule(module_names(tmp_path), tmp_path)
    assert wrong == [
        "thinkswitch/engines/fast.py:1: engines imports thinkswitch.switch.pipeline",
        "thinkswitch/server/face.py:1: face server imports thinkswitch.engines.fast",
        "thinkswitch/triage/peek.py:2: triage imports thinkswitch.trace.store",
    ]


def test_no_test_file_imports_another() -> None:
    """Shared helpers live in tests/support; a test file imports no other test file."""
    tests = Path(__file__).resolve().parent
    wrong = []
    for path in sorted(tests.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            wrong += [f"{path.relative_to(tests)}:{node.lineno}: {name}" for name in names
                      if name.split(".")[0].startswith(("test_", "conftest"))]
    assert not wrong, "\n".join(wrong)
