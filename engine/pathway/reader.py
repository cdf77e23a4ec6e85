"""Read YAML text into plain Python values, keeping the position of every node.

Stage 1 of read → model → check → compile → run. The loader differs from
PyYAML's ``safe_load`` on purpose:

- only ``true``/``false`` are booleans: ``on``, ``off``, ``yes`` and ``no`` stay
  strings, so a transition's ``on:`` key and states named ``on`` survive;
- a key that appears twice in one mapping is an error, not a silent overwrite;
- every value and every key has a (line, column), 1-based, looked up by path;
- hostile input is refused quickly, at its true position: control characters and
  bytes that are not UTF-8, files over ``MAX_BYTES``, nesting deeper than
  ``MAX_DEPTH``, more than ``MAX_ALIASES`` aliases or a document that expands to
  more than ``MAX_NODES`` values (a "billion laughs" file), unknown tags, keys
  that are not text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from engine.exceptions import Diagnostic, PathwayError

Path = tuple[str | int, ...]

#: Limits far above any real pathway (the three CPTS pathways are 10–20 KB, depth < 15).
MAX_BYTES = 1024 * 1024
MAX_DEPTH = 64
MAX_ALIASES = 200
MAX_NODES = 200_000

#: Characters refused anywhere in a pathway file: C0 controls but tab and line breaks,
#: DEL, C1 controls (NEL U+0085 included: YAML would count it as a line break), the
#: Unicode line and paragraph separators, and a byte-order mark after the start.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ufeff]|\r(?!\n)")


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
    """Parse one YAML document. Syntax errors and hostile input raise ``YamlReadError``;
    duplicate keys and bad scalars are returned as diagnostics (the later value wins)."""
    text = text.removeprefix("\ufeff")
    _refuse_hostile_text(text, file)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        raise YamlReadError([_syntax_error(file, exc)]) from exc
    except yaml.YAMLError as exc:  # e.g. reader errors on invalid characters
        raise YamlReadError([Diagnostic(file, 1, 1, f"YAML error: {exc}", "yaml")]) from exc
    except RecursionError:
        raise YamlReadError([Diagnostic(file, 1, 1, f"nesting too deep (more than "
                                        f"{MAX_DEPTH} levels)", "yaml")]) from None
    finally:
        loader.dispose()
    doc = Document(file, None, text.split("\n"))
    problems: list[Diagnostic] = []
    if node is not None:
        _check_shape(node, file)
        doc.data = _convert(node, (), doc, problems, loader)
    return doc, problems


def _refuse_hostile_text(text: str, file: str) -> None:
    if len(text) > MAX_BYTES:
        raise YamlReadError([Diagnostic(file, 1, 1, f"file too large ({len(text)} characters; "
                                        f"a pathway file holds at most {MAX_BYTES})", "yaml")])
    _refuse_deep_flow(text, file)
    bad = _FORBIDDEN.search(text)
    if bad is not None:
        line, column = _line_column(text, bad.start())
        raise YamlReadError([Diagnostic(
            file, line, column, f"control character U+{ord(bad.group()[0]):04X} is not allowed "
            "in a pathway file (only printable text, tabs and line breaks)", "yaml")])


def _refuse_deep_flow(text: str, file: str) -> None:
    """Flow collections (``[[[…`` / ``{{{…``) nested beyond ``MAX_DEPTH`` are refused before
    PyYAML's recursive composer meets them (it would exhaust the stack, slowly)."""
    depth = 0
    for match in _FLOW.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                line, column = _line_column(text, match.start())
                raise YamlReadError([Diagnostic(file, line, column, f"nesting too deep (more "
                                                f"than {MAX_DEPTH} levels)", "yaml")])
        elif token in "]}":
            depth = max(0, depth - 1)
    indents: list[int] = []
    for number, row in enumerate(text.split("\n"), start=1):
        stripped = row.lstrip(" ")
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(row) - len(stripped)
        while indents and indents[-1] >= indent:
            indents.pop()
        indents.append(indent)
        if len(indents) > MAX_DEPTH:
            raise YamlReadError([Diagnostic(file, number, indent + 1, f"nesting too deep (more "
                                            f"than {MAX_DEPTH} levels)", "yaml")])


_FLOW = re.compile(r"""'(?:[^']|'')*'|"(?:[^"\\]|\\.)*"|#[^\n]*|[\[\]{}]""")


def _line_column(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _check_shape(root: yaml.Node, file: str) -> None:
    """Refuse deep nesting, many aliases and alias bombs before anything is built."""
    seen: set[int] = set()
    aliases = nodes = 0
    stack: list[tuple[yaml.Node, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        nodes += 1
        where = (node.start_mark.line + 1, node.start_mark.column + 1)
        if depth > MAX_DEPTH:
            raise YamlReadError([Diagnostic(file, *where, f"nesting too deep (more than "
                                            f"{MAX_DEPTH} levels)", "yaml")])
        if id(node) in seen:
            aliases += 1
            if aliases > MAX_ALIASES:
                raise YamlReadError([Diagnostic(file, *where, f"too many aliases (more than "
                                                f"{MAX_ALIASES})", "yaml")])
        seen.add(id(node))
        if nodes > MAX_NODES:
            raise YamlReadError([Diagnostic(file, *where, f"the document expands to more than "
                                            f"{MAX_NODES} values (aliases?)", "yaml")])
        if isinstance(node, yaml.MappingNode):
            stack.extend((n, depth + 1) for pair in node.value for n in pair)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((n, depth + 1) for n in node.value)


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
    return read_text(read_source(path), path)


def read_source(path: str) -> str:
    """The text of a pathway file: a folder, an unreadable, too large or non-UTF-8 file
    raises ``YamlReadError`` with its located diagnostic."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except IsADirectoryError:
        raise YamlReadError([Diagnostic(path, 1, 1, "is a folder, not a pathway file",
                                        "yaml")]) from None
    except OSError as exc:
        raise YamlReadError([Diagnostic(path[:200], 1, 1, f"cannot read file: {exc.strerror}",
                                        "file")]) from None
    if len(raw) > MAX_BYTES:
        raise YamlReadError([Diagnostic(path, 1, 1, f"file too large (more than {MAX_BYTES} "
                                        "bytes)", "yaml")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        head = raw[:exc.start]
        line = head.count(b"\n") + 1
        column = len(head[head.rfind(b"\n") + 1:].decode("utf-8", errors="replace")) + 1
        raise YamlReadError([Diagnostic(path, line, column, f"byte 0x{raw[exc.start]:02X} is "
                                        "not UTF-8 text; save the file as UTF-8",
                                        "yaml")]) from None
    return text


def _convert(node: yaml.Node, path: Path, doc: Document, problems: list[Diagnostic],
             loader: _Loader) -> Any:
    doc.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # resolves YAML merge keys (<<)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _key(key_node, doc, problems, loader)
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
    return _scalar(node, doc, problems, loader)


def _scalar(node: yaml.Node, doc: Document, problems: list[Diagnostic],
            loader: _Loader) -> Any:
    line, column = node.start_mark.line + 1, node.start_mark.column + 1
    if not isinstance(node, yaml.ScalarNode):
        problems.append(Diagnostic(doc.file, line, column, "a key must be text, not a "
                                   "list or a mapping", "yaml"))
        return "?"
    try:
        return loader.construct_object(node, deep=True)
    except (ValueError, OverflowError) as exc:  # e.g. an impossible date such as 2026-13-01
        what = "date" if node.tag.endswith(":timestamp") else "value"
        problems.append(Diagnostic(doc.file, line, column,
                                   f"invalid {what} {node.value!r}: {exc}", "yaml"))
    except yaml.constructor.ConstructorError:
        problems.append(Diagnostic(doc.file, line, column, f"unknown YAML tag {node.tag!r}; "
                                   "pathway files use plain YAML without tags", "yaml"))
    return node.value


def _key(node: yaml.Node, doc: Document, problems: list[Diagnostic], loader: _Loader) -> Any:
    """A mapping key: text, or a number/boolean (kept, checked later); anything else is
    reported and read as its text."""
    key = _scalar(node, doc, problems, loader)
    if isinstance(key, str | int | float | bool):
        return key
    problems.append(Diagnostic(doc.file, node.start_mark.line + 1, node.start_mark.column + 1,
                               f"key {node.value!r} is read as a {type(key).__name__}; "
                               "write it in quotes to use it as text", "yaml"))
    return str(node.value)


def walk(data: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every (path, value) pair of a plain-data tree, depth first."""
    yield path, data
    if isinstance(data, dict):
        for key, value in data.items():
            yield from walk(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from walk(value, (*path, i))
