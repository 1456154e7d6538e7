"""Load YAML while remembering where every value came from, so errors can name file, line and column.

How it works: the parser (libyaml when present) gives a stream of events with marks; we build plain
Python data from it, without recursion, and a side table mapping each path (a tuple of keys and list
indexes) to its (line, column), 1-based. The loader is bounded so a hostile or broken file cannot hang
or exhaust the engine: files over `max_bytes` are refused unread, aliases (`*name`, the "billion
laughs" expansion) are refused, nesting is limited to `MAX_DEPTH`, numbers to `MAX_NUMBER_CHARS`
characters, and only plain scalar keys are accepted. Every failure, including ones the parser did not
foresee, is a `SourceError` naming file, line and column.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger(__name__)

PathKey = tuple[Any, ...]
MAX_BYTES = 1 << 20          # a YAML file larger than this is refused (flows pass a smaller bound)
MAX_DEPTH = 32               # nested mappings/lists
MAX_NUMBER_CHARS = 100       # an int/float written with more characters is refused (YAML 1.1 `1:2:3` ints grow fast)
_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG, _SEQ_TAG = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
_NUMBER_TAGS = frozenset({"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"})
_Parser = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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


class _Collection:
    """A mapping or list being built: its data, its path, and (for a mapping) the key waiting for a value."""

    __slots__ = ("data", "path", "key", "key_mark")

    def __init__(self, data: Any, path: PathKey) -> None:
        self.data, self.path = data, path
        self.key: Any = None
        self.key_mark: Any = None


class _Builder:
    """Turns parser events into data and marks; refuses what the loader does not allow."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.marks: dict[PathKey, tuple[int, int]] = {}
        self.resolver = yaml.resolver.Resolver()
        self.constructor = yaml.constructor.SafeConstructor()

    def fail(self, mark: Any, message: str, path: PathKey = ()) -> SourceError:
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        return SourceError(self.file, line, column, dotted(path), message)

    def scalar(self, event: yaml.ScalarEvent, path: PathKey) -> Any:
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.resolver.resolve(yaml.ScalarNode, event.value, event.implicit)
        if tag == _STR_TAG:
            return event.value
        if tag in _NUMBER_TAGS and len(event.value) > MAX_NUMBER_CHARS:
            raise self.fail(event.start_mark, f"number too long ({len(event.value)} characters, at most "
                            f"{MAX_NUMBER_CHARS}); quote it to keep it as text", path)
        node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
        try:
            return self.constructor.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            raise self.fail(event.start_mark, f"invalid YAML value: {exc.problem}", path) from None
        except (ValueError, TypeError, OverflowError, ArithmeticError) as exc:
            raise self.fail(event.start_mark, f"invalid {tag.rsplit(':', 1)[-1]} value {_clip(event.value)!r}: "
                            f"{_clip(str(exc))}", path) from None
        finally:
            self.constructor.constructed_objects.clear()

    def build(self, events: Any) -> tuple[Any, bool]:
        """(data, found a document); raises SourceError."""
        stack: list[_Collection] = []
        root: Any = None
        documents = 0
        for event in events:
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise self.fail(event.start_mark, "invalid YAML: expected a single document in the file")
                continue
            if isinstance(event, (yaml.StreamStartEvent, yaml.StreamEndEvent, yaml.DocumentEndEvent)):
                continue
            if isinstance(event, yaml.CollectionEndEvent):
                done = stack.pop()
                if not stack:
                    root = done.data
                continue
            parent = stack[-1] if stack else None
            if isinstance(event, yaml.AliasEvent):
                raise self.fail(event.start_mark, f"aliases (*{event.anchor}) are not allowed; write the value out",
                                self._child_path(parent))
            if parent is not None and isinstance(parent.data, dict) and parent.key_mark is None:
                self._key(parent, event)
                continue
            path = self._child_path(parent)
            mark = event.start_mark
            if parent is None or isinstance(parent.data, list):
                self.marks[path] = (mark.line + 1, mark.column + 1)
            if isinstance(event, yaml.ScalarEvent):
                value: Any = self.scalar(event, path)
                container = None
            else:
                if event.tag not in (None, "!", _MAP_TAG, _SEQ_TAG):
                    raise self.fail(mark, f"tag {event.tag} is not supported here", path)
                if len(stack) >= MAX_DEPTH:
                    raise self.fail(mark, f"nested more than {MAX_DEPTH} levels deep", path)
                value = {} if isinstance(event, yaml.MappingStartEvent) else []
                container = _Collection(value, path)
            if parent is None:
                root = value
            elif isinstance(parent.data, list):
                parent.data.append(value)
            else:
                parent.data[parent.key] = value
                parent.key, parent.key_mark = None, None
            if container is not None:
                stack.append(container)
        return root, documents > 0

    def _child_path(self, parent: _Collection | None) -> PathKey:
        if parent is None:
            return ()
        if isinstance(parent.data, list):
            return parent.path + (len(parent.data),)
        return parent.path + ((parent.key,) if parent.key_mark is not None else ())

    def _key(self, parent: _Collection, event: Any) -> None:
        if not isinstance(event, yaml.ScalarEvent):
            raise self.fail(event.start_mark, "complex mapping keys (a list or mapping as a key) are not supported",
                            parent.path)
        key = self.scalar(event, parent.path)
        try:
            duplicate = key in parent.data
        except TypeError:
            raise self.fail(event.start_mark, f"this key cannot be used ({type(key).__name__})", parent.path) from None
        if duplicate:
            raise self.fail(event.start_mark, "duplicate key", parent.path + (key,))
        parent.key, parent.key_mark = key, event.start_mark
        self.marks[parent.path + (key,)] = (event.start_mark.line + 1, event.start_mark.column + 1)


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _codepoint(character: Any) -> str:
    code = character if isinstance(character, int) else ord(str(character)[:1] or "\0")
    return f"character U+{code:04X}"


def _parser_error(file: str, text: str, exc: yaml.YAMLError) -> SourceError:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        return SourceError(file, line, column, "", f"invalid YAML: {exc.problem or exc.context}")
    if isinstance(exc, yaml.reader.ReaderError):
        before = text.encode("utf-8")[:exc.position].decode("utf-8", "replace") if _Parser is not yaml.SafeLoader \
            else text[:exc.position]
        line = before.count("\n") + 1
        column = len(before) - (before.rfind("\n") + 1) + 1
        return SourceError(file, line, column, "", f"invalid YAML: {exc.reason} ({_codepoint(exc.character)})")
    return SourceError(file, 1, 1, "", f"invalid YAML: {exc}")


def load_text(text: str, file: str = "<string>") -> LocatedYaml:
    """Parse YAML text; every problem becomes a SourceError with its position."""
    builder = _Builder(file)
    try:
        data, found = builder.build(yaml.parse(text, Loader=_Parser))
    except SourceError:
        raise
    except yaml.YAMLError as exc:
        raise _parser_error(file, text, exc) from None
    except (RecursionError, MemoryError) as exc:
        raise SourceError(file, 1, 1, "", f"cannot load this YAML ({type(exc).__name__})") from None
    except Exception as exc:  # a parser defect must still be one located line, not a traceback
        log.exception("unexpected error loading %s", file)
        raise SourceError(file, 1, 1, "", f"cannot load this YAML ({type(exc).__name__}: {_clip(str(exc))})") from None
    if not found or data is None:
        return LocatedYaml(file, None, {(): (1, 1)})
    builder.marks.setdefault((), (1, 1))
    return LocatedYaml(file, data, builder.marks)


def load_file(path: str | Path, max_bytes: int = MAX_BYTES) -> LocatedYaml:
    """Read and parse a YAML file (UTF-8, at most max_bytes); problems raise SourceError."""
    file = str(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(max_bytes + 1)
    except FileNotFoundError:
        raise SourceError(file, 1, 1, "", "file not found") from None
    except IsADirectoryError:
        raise SourceError(file, 1, 1, "", "is a directory, not a file") from None
    except OSError as exc:
        raise SourceError(file, 1, 1, "", f"cannot read: {exc.strerror or exc}") from None
    if len(raw) > max_bytes:
        raise SourceError(file, 1, 1, "", f"file too large (more than {max_bytes // 1024} KiB)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise SourceError(file, line, 1, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return load_text(text, file)
