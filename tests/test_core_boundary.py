"""The core imports no platform library and nothing from adapters/ (dependencies point inward)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import bot

FORBIDDEN = ("telegram", "discord", "adapters", "aiohttp")
CORE = Path(bot.__file__).parent


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_no_core_module_imports_a_platform_or_an_adapter() -> None:
    offenders = {
        str(path.relative_to(CORE.parent)): sorted(_imports(path) & set(FORBIDDEN))
        for path in CORE.rglob("*.py")
        if _imports(path) & set(FORBIDDEN)
    }
    assert offenders == {}


def test_importing_every_core_module_loads_no_platform_library() -> None:
    modules = [f"bot.{p.stem}" for p in CORE.glob("*.py") if p.stem != "__init__"]
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in modules)
        + f"bad = [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}]\n"
        + "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
