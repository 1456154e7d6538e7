"""Load YAML while remembering where every value came from, so errors can name file, line and column.

How it works: PyYAML's composer gives a node tree with marks; we build plain Python data from it and a
side table mapping each path (a tuple of keys and list indexes) to its (line, column), 1-based.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PathKey = tuple[Any, ...]


class SourceError(ValueError):
    """A problem in a source file, located at file:line:column, with the offending field named."""

    def __init__(self, file: str, line: int, column: int, field_name: str, message: str) -> None:
        self.file, self.line, self.column, self.field_name, self.message = file, line, column, field_name, message
        where = f"{file}:{line}:{column}"
        super().__init__(f"{where}: {field_name}: {message}" if field_name else f"{where}: {message}")


@dataclass
class LocatedYaml:
    """YAML data plus the source location of every key and value in it."""

    file: str
    data: Any
    marks: dict[PathKey, tuple[int, int]] = field(default_factory=dict)

    def where(self, path: PathKey) -> tuple[int, int]:
        """The (line, column) of `path`, or of its closest located ancestor."""
        probe = tuple(path)
        while probe:
            if probe in self.marks:
                return self.marks[probe]
            probe = probe[:-1]
        return self.marks.get((), (1, 1))

    def error(self, path: PathKey, message: str) -> SourceError:
        line, column = self.where(path)
        return SourceError(self.file, line, column, dotted(path), message)


def dotted(path: PathKey) -> str:
    """Render a path as `a.b[2].c`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _build(node: yaml.Node, path: PathKey, marks: dict[PathKey, tuple[int, int]], file: str) -> Any:
    marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _resolve_scalar(key_node)
            if key in result:
                line = key_node.start_mark.line + 1
                raise SourceError(file, line, key_node.start_mark.column + 1, dotted(path + (key,)),
                                  "duplicate key")
            result[key] = _build(value_node, path + (key,), marks, file)
            marks[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, path + (i,), marks, file) for i, item in enumerate(node.value)]
    return _resolve_scalar(node)


_SCALAR_LOADER = yaml.SafeLoader("")


def _resolve_scalar(node: yaml.Node) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        raise TypeError("complex mapping keys are not supported")
    return _SCALAR_LOADER.construct_object(node, deep=True)


def load_text(text: str, file: str = "<string>") -> LocatedYaml:
    """Parse YAML text; syntax errors become SourceError with the parser's position."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise SourceError(file, line, column, "", f"invalid YAML: {exc.problem or exc.context}") from None
    marks: dict[PathKey, tuple[int, int]] = {}
    if node is None:
        return LocatedYaml(file, None, {(): (1, 1)})
    try:
        data = _build(node, (), marks, file)
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        raise SourceError(file, mark.line + 1 if mark else 1, mark.column + 1 if mark else 1, "",
                          f"invalid YAML value: {exc.problem}") from None
    return LocatedYaml(file, data, marks)


def load_file(path: str | Path) -> LocatedYaml:
    """Read and parse a YAML file (UTF-8); unreadable files raise SourceError at line 1."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SourceError(file, 1, 1, "", "file not found") from None
    except UnicodeDecodeError as exc:
        raise SourceError(file, 1, 1, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return load_text(text, file)
