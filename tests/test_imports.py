"""Every relative import in the package resolves, including the lazy ones inside functions.

Lazy imports (``from ..model_files import verify`` inside a function) only run when that code path runs, so a
module move can leave one pointing nowhere while importing the package still works. This walks the source.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path

import voice_trainer

ROOT = Path(voice_trainer.__file__).parent


def _relative_imports() -> list[tuple[str, int, str, str]]:
    """(file, line, absolute module, imported name) for every ``from .x import y`` in the package."""
    out = []
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        package = ".".join(parts[:-1])  # the package a module (or an __init__.py) belongs to / is
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                module = importlib.util.resolve_name("." * node.level + (node.module or ""), package)
                out += [(str(path.relative_to(ROOT.parent)), node.lineno, module, a.name) for a in node.names]
    return out


def test_every_relative_import_resolves() -> None:
    found = _relative_imports()
    assert len(found) > 100  # the walk really saw the package
    broken = []
    for file, line, module, name in found:
        try:
            mod = importlib.import_module(module)
        except ImportError as exc:
            broken.append(f"{file}:{line}: {module}: {exc}")
            continue
        if name != "*" and not hasattr(mod, name) and importlib.util.find_spec(f"{module}.{name}") is None:
            broken.append(f"{file}:{line}: {module} has no {name}")
    assert not broken, "\n".join(broken)
