"""Read YAML while keeping line numbers, so every knowledge problem names file and line.

Maintainers edit knowledge/ by hand; when something is wrong they need "faq/visa.yaml
line 42: ...", not a traceback. `load` returns the plain Python value together with
the composed node tree; `line_of` finds the line of any path inside it.

Each file is composed once, with LibYAML (`yaml.CSafeLoader`) where PyYAML has it and
the pure-Python `SafeLoader` where it does not, and the value is constructed from that
same node tree: the nodes carry the line marks, so no second parse is needed. Both
loaders give the same values and lines (tests/test_knowledge_loading.py checks it on
the shipped files). A file with a syntax error is parsed again with the pure-Python
loader, only to word the message the same whichever loader read it (LibYAML's messages
differ, and are terser). A value YAML cannot construct (`reviewed: 2026-13-01`, an
`!!int abc`) is a problem with its line, never a traceback: an impossible date is kept
as its text, so the schema reports it at its field ("reviewed: Input should be a valid
date ..."), and anything else is a problem at the value's line.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor

_MERGE = "tag:yaml.org,2002:merge"


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


def _duplicate_keys(node: yaml.Node | None, name: str) -> tuple[list[Problem], bool]:
    """Keys repeated within one mapping (YAML would silently keep the last), and whether `<<` merges occur."""
    problems: list[Problem] = []
    merges = False
    stack = [node]
    visited: set[int] = set()  # aliases share nodes, and an anchor may even contain itself
    while stack:
        current = stack.pop()
        if id(current) in visited:
            continue
        visited.add(id(current))
        if isinstance(current, yaml.MappingNode):
            seen: set[str] = set()
            for k, v in current.value:
                if isinstance(k, yaml.ScalarNode):
                    merges = merges or k.tag == _MERGE
                    if k.value in seen:
                        problems.append(Problem(name, k.start_mark.line + 1, f"duplicate key {k.value!r}"))
                    seen.add(k.value)
                stack.append(v)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
    return problems, merges


_STR, _SEQ, _MAP = "tag:yaml.org,2002:str", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"
_SCALAR_TAGS = frozenset(f"tag:yaml.org,2002:{kind}" for kind in ("str", "int", "float", "bool", "null", "timestamp"))


class _NotPlain(Exception):
    """The tree has an alias of a collection, a merge, a non-scalar key or a tag beyond _SCALAR_TAGS, seq, map."""


class _Plain:
    """The value PyYAML's safe constructor builds from a plain tree, built directly: strings, lists and
    dicts here (nearly all of a knowledge file), other scalars by the loader itself. About three times
    faster than the generic constructor; anything else raises _NotPlain and the generic one is used."""

    def __init__(self, loader: yaml.BaseLoader):
        self.loader = loader
        self.collections: set[int] = set()
        self.repeated_keys = False

    def value(self, node: yaml.Node) -> Any:
        kind = type(node)
        if kind is yaml.ScalarNode:
            if node.tag == _STR:
                return node.value
            if node.tag not in _SCALAR_TAGS:
                raise _NotPlain
            return self.loader.construct_object(node)
        if id(node) in self.collections:
            raise _NotPlain  # an alias: the generic constructor shares the object (and allows cycles)
        self.collections.add(id(node))
        if kind is yaml.SequenceNode and node.tag == _SEQ:
            return [child.value if type(child) is yaml.ScalarNode and child.tag == _STR else self.value(child)
                    for child in node.value]
        if kind is yaml.MappingNode and node.tag == _MAP:
            mapping = {}
            for key_node, value_node in node.value:
                if type(key_node) is not yaml.ScalarNode or key_node.tag not in _SCALAR_TAGS:
                    raise _NotPlain  # a merge (`<<`), or a key that is a list or mapping
                mapping[self.value(key_node)] = self.value(value_node)
            if len({key_node.value for key_node, _ in node.value}) < len(node.value):
                self.repeated_keys = True
            return mapping
        raise _NotPlain


class _Checked:
    """Constructor changes shared by both loaders: no exception escapes without a line."""

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        """The tag of a node, as PyYAML resolves it, without trying its patterns on a plain scalar whose
        first character starts none of them ("how much ...": most of a knowledge file)."""
        starts = _RESOLVER_STARTS.get(type(self))
        if starts is not None and kind is yaml.ScalarNode and implicit[0] and value and value[0] not in starts:
            return _STR
        return super().resolve(kind, value, implicit)  # type: ignore[misc]

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)  # type: ignore[misc]
        except (ValueError, TypeError, OverflowError, ArithmeticError) as exc:
            raise ConstructorError(None, None, f"cannot read this value: {exc}", node.start_mark) from None

    def construct_timestamp_or_text(self, node: yaml.ScalarNode) -> Any:
        """A date or time as YAML reads it; one that cannot exist (2026-13-01) stays text for the schema to report."""
        try:
            return SafeConstructor.construct_yaml_timestamp(self, node)  # type: ignore[arg-type]
        except ValueError:
            return self.construct_scalar(node)  # type: ignore[attr-defined]


class PureLoader(_Checked, yaml.SafeLoader):
    """PyYAML's pure-Python safe loader with the checks above."""


if getattr(yaml, "__with_libyaml__", False):
    class FastLoader(_Checked, yaml.CSafeLoader):  # type: ignore[misc]
        """LibYAML's safe loader with the checks above."""
else:  # pragma: no cover - PyYAML built without LibYAML
    FastLoader = PureLoader  # type: ignore[misc]

_RESOLVER_STARTS: dict[type, frozenset[str]] = {}
"""Per loader, the first characters of the scalars its implicit resolvers may match (none for the rest)."""
for _loader in {PureLoader, FastLoader}:
    _loader.add_constructor("tag:yaml.org,2002:timestamp", _Checked.construct_timestamp_or_text)
    if None not in _loader.yaml_implicit_resolvers and not _loader.yaml_path_resolvers:
        _RESOLVER_STARTS[_loader] = frozenset(_loader.yaml_implicit_resolvers)


def _parse(text: str, loader_class: type, name: str) -> tuple[yaml.Node | None, Any, list[Problem]]:
    """Compose `text` once and construct its value from the same nodes: (node, value, duplicate keys)."""
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None, []
        plain = _Plain(loader)
        try:
            value = plain.value(node)
        except _NotPlain:
            duplicates, merges = _duplicate_keys(node, name)
            # `<<` merges rewrite the mapping nodes they construct; keep the tree as written for line_of
            return node, loader.construct_document(copy.deepcopy(node) if merges else node), duplicates
        return node, value, _duplicate_keys(node, name)[0] if plain.repeated_keys else []
    finally:
        loader.dispose()


def _syntax_problem(exc: yaml.YAMLError, name: str) -> Problem:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        prefix = "YAML" if isinstance(exc, ConstructorError) else "YAML syntax"
        message = f"{prefix}: {exc.problem or exc}"
        if exc.context and exc.context_mark and exc.context_mark.line + 1 != line:
            message += f" ({exc.context} started on line {exc.context_mark.line + 1})"
        return Problem(name, line, message)
    return Problem(name, 1, f"YAML: {exc}")


def load(path: Path, name: str, loader: type | None = None) -> tuple[YamlDoc | None, list[Problem]]:
    """Parse one YAML file; on a syntax error return no document and one problem with its line.

    `loader` is FastLoader (LibYAML where available) unless given; tests pass PureLoader.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(name, 1, f"cannot read file: {exc}")]
    loader = loader or FastLoader
    try:
        node, value, duplicates = _parse(text, loader, name)
    except yaml.YAMLError as first:
        exc = first
        if loader is not PureLoader:
            try:  # word the message as the pure-Python loader does, whichever loader found it
                _parse(text, PureLoader, name)
            except yaml.YAMLError as pure_exc:
                exc = pure_exc
            except RecursionError:
                pass
        return None, [_syntax_problem(exc, name)]
    except RecursionError:
        return None, [Problem(name, 1, "YAML: the file is nested too deeply to read")]
    return YamlDoc(name, value, node), duplicates
