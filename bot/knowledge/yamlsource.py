"""Read YAML while keeping line numbers, so every knowledge problem names file and line.

Maintainers edit knowledge/ by hand; when something is wrong they need "faq/visa.yaml
line 42: ...", not a traceback. `load` returns the plain Python value together with
the composed node tree; `line_of` finds the line of any path inside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or worth a look) in a knowledge file."""

    file: str
    line: int
    message: str
    severity: str = "error"  # "error" | "warning"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.severity}: {self.message}"


class KnowledgeError(Exception):
    """The knowledge base cannot be loaded; `problems` says where and why."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        super().__init__("\n".join(str(p) for p in errors) or "knowledge base has errors")


@dataclass
class YamlDoc:
    """A parsed YAML file: its value, its node tree and the name to report it by."""

    name: str
    value: Any
    node: yaml.Node | None

    def line_of(self, path: tuple[Any, ...]) -> int:
        """1-based line of the value at `path` (keys and list indexes), or its nearest parent."""
        node = self.node
        line = node.start_mark.line + 1 if node is not None else 1
        for key in path:
            child = _child(node, key)
            if child is None:
                break
            node = child
            line = node.start_mark.line + 1
        return line


def _child(node: yaml.Node | None, key: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == str(key):
                return v
    elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
        return node.value[key]
    return None


def _duplicate_keys(node: yaml.Node | None, name: str) -> list[Problem]:
    problems: list[Problem] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, yaml.MappingNode):
            seen: set[str] = set()
            for k, v in current.value:
                if isinstance(k, yaml.ScalarNode):
                    if k.value in seen:
                        problems.append(Problem(name, k.start_mark.line + 1, f"duplicate key {k.value!r}"))
                    seen.add(k.value)
                stack.append(v)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
    return problems


def load(path: Path, name: str) -> tuple[YamlDoc | None, list[Problem]]:
    """Parse one YAML file; on a syntax error return no document and a problem with its line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(name, 1, f"cannot read file: {exc}")]
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        value = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        message = f"YAML syntax: {exc.problem or exc}"
        if exc.context and exc.context_mark and exc.context_mark.line + 1 != line:
            message += f" ({exc.context} started on line {exc.context_mark.line + 1})"
        return None, [Problem(name, line, message)]
    except yaml.YAMLError as exc:
        return None, [Problem(name, 1, f"YAML: {exc}")]
    return YamlDoc(name, value, node), _duplicate_keys(node, name)
