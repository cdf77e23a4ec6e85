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

from engine.exceptions import Diagnostic, PathwayError

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
    #: set when the model was built by leaving out parts with schema errors
    partial: bool = False

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


class YamlReadError(PathwayError):
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
        raise YamlReadError([_syntax_error(file, exc)]) from exc
    except yaml.YAMLError as exc:  # e.g. reader errors on invalid characters
        raise YamlReadError([Diagnostic(file, 1, 1, f"YAML error: {exc}", "yaml")]) from exc
    finally:
        loader.dispose()
    doc = Document(file, None, text.splitlines())
    problems: list[Diagnostic] = []
    if node is not None:
        doc.data = _convert(node, (), doc, problems, loader)
    return doc, problems


#: What authors usually did wrong when PyYAML reports one of these problems.
_HINTS = {
    "mapping values are not allowed here": "this line is indented deeper than a key of the "
    "lines above, or a value contains ': ' and must be quoted",
    "expected <block end>": "this line is not aligned with the keys above it; indent each "
    "key of one mapping by the same number of spaces",
    "that cannot start any token": "YAML is indented with spaces only, never tabs",
    "found another document": "a pathway file holds a single YAML document; remove this "
    "'---' or split the file",
}

#: Errors found far from their cause: the position reported is where the construct opened.
_UNCLOSED = {
    "while parsing a flow sequence": "the list opened here with '[' is not closed with ']'",
    "while parsing a flow mapping": "the mapping opened here with '{' is not closed with '}'",
    "while scanning a quoted scalar": "the quoted text opened here is not closed",
}


def _syntax_error(file: str, exc: yaml.MarkedYAMLError) -> Diagnostic:
    problem = (exc.problem or "invalid YAML").removeprefix("but ")
    mark = exc.problem_mark or exc.context_mark
    unclosed = _UNCLOSED.get(exc.context or "")
    if unclosed and exc.context_mark is not None and exc.problem_mark is not None:
        where = f"line {exc.problem_mark.line + 1}, column {exc.problem_mark.column + 1}"
        message = f"{unclosed} ({problem} at {where})"
        mark = exc.context_mark
    else:
        hint = next((h for text, h in _HINTS.items() if text in problem), None)
        message = f"{problem}: {hint}" if hint else problem
        if exc.context and not hint:
            message = f"{message} ({exc.context})"
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    return Diagnostic(file, line, column, f"YAML syntax error: {message}", "yaml")


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
    try:
        return loader.construct_object(node, deep=True)
    except ValueError as exc:  # e.g. an impossible date such as 2026-13-01
        line, column = doc.values[path]
        what = "date" if node.tag.endswith(":timestamp") else "value"
        problems.append(Diagnostic(doc.file, line, column,
                                   f"invalid {what} {node.value!r}: {exc}", "yaml"))
        return node.value


def walk(data: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every (path, value) pair of a plain-data tree, depth first."""
    yield path, data
    if isinstance(data, dict):
        for key, value in data.items():
            yield from walk(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from walk(value, (*path, i))
