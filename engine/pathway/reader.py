"""Read YAML text into plain Python values, keeping the position of every node.

Stage 1 of read → model → check → compile → run. The loader differs from
PyYAML's ``safe_load`` on purpose:

- only ``true``/``false`` are booleans: ``on``, ``off``, ``yes`` and ``no`` stay
  strings, so a transition's ``on:`` key and states named ``on`` survive;
- a key that appears twice in one mapping is an error, not a silent overwrite;
- every value and every key has a (line, column), 1-based, looked up by path.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from engine.exceptions import Diagnostic

Path = tuple[str | int, ...]


class _Loader(yaml.SafeLoader):
    """SafeLoader whose booleans are only true/false (YAML 1.2 core schema)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


@dataclass
class Document:
    """A YAML document as plain data plus where each part of it stands."""

    file: str
    data: Any
    lines: list[str] = field(default_factory=list)
    #: path → (line, column) of the value at that path
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    #: path → (line, column) of the key that introduces the value at that path
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def position(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """The position of ``path``, or of its nearest ancestor that has one."""
        table = self.keys if key else self.values
        probe = tuple(path)
        while probe:
            if probe in table:
                return table[probe]
            if key and probe in self.values:
                return self.values[probe]
            probe = probe[:-1]
        return self.values.get((), (1, 1))

    def diagnostic(self, path: Path, message: str, check: str, *, key: bool = False,
                   element: str | None = None, offset: int = 0) -> Diagnostic:
        line, column = self.position(path, key=key)
        return Diagnostic(self.file, line, column + offset, message, check, element)

    def quoted(self, path: Path) -> bool:
        """Whether the scalar at ``path`` is written in quotes (columns then shift by one)."""
        line, column = self.values.get(tuple(path), (0, 0))
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        return column - 1 < len(text) and text[column - 1:column] in {"'", '"'}


class YamlReadError(Exception):
    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        super().__init__("\n".join(map(str, diagnostics)))


def read_text(text: str, file: str = "<string>") -> tuple[Document, list[Diagnostic]]:
    """Parse one YAML document. Syntax errors raise ``YamlReadError``;
    duplicate keys are returned as diagnostics (the later value wins)."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or "invalid YAML"
        if exc.context:
            problem = f"{problem} ({exc.context})"
        raise YamlReadError([Diagnostic(file, line, column, f"YAML syntax error: {problem}",
                                        "yaml")]) from exc
    except yaml.YAMLError as exc:  # e.g. reader errors on invalid characters
        raise YamlReadError([Diagnostic(file, 1, 1, f"YAML error: {exc}", "yaml")]) from exc
    finally:
        loader.dispose()
    doc = Document(file, None, text.splitlines())
    problems: list[Diagnostic] = []
    if node is not None:
        doc.data = _convert(node, (), doc, problems, loader)
    return doc, problems


def read_file(path: str) -> tuple[Document, list[Diagnostic]]:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except UnicodeDecodeError as exc:
        raise YamlReadError([Diagnostic(path, 1, 1, f"file is not UTF-8 text: {exc.reason}",
                                        "yaml")]) from exc
    return read_text(text, path)


def _convert(node: yaml.Node, path: Path, doc: Document, problems: list[Diagnostic],
             loader: _Loader) -> Any:
    doc.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # resolves YAML merge keys (<<)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool) or key is None:
                key = str(key)
            if key in out:
                first = doc.keys.get((*path, key), (0, 0))[0]
                problems.append(Diagnostic(
                    doc.file, key_node.start_mark.line + 1, key_node.start_mark.column + 1,
                    f"duplicate key {key!r} (first defined on line {first})", "duplicate-key"))
            doc.keys[(*path, key)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            out[key] = _convert(value_node, (*path, key), doc, problems, loader)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*path, i), doc, problems, loader)
                for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def walk(data: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every (path, value) pair of a plain-data tree, depth first."""
    yield path, data
    if isinstance(data, dict):
        for key, value in data.items():
            yield from walk(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from walk(value, (*path, i))
