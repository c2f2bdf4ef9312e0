"""Reading YAML configuration with positions: every error names file, line and field path.

``${VAR}`` in a string value is replaced from the environment so secrets stay
out of the file; ``$$`` is a literal dollar sign.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import yaml

NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_VAR_RE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConfigError(Exception):
    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


class Reader:
    """Walks the loaded document, recording errors with file:line: path prefixes."""

    def __init__(self, source: str, lines: dict[tuple, int], environ: Mapping[str, str]):
        self.source = source
        self.lines = lines
        self.environ = environ
        self.errors: list[str] = []

    def error(self, path: tuple, message: str) -> None:
        self.errors.append(f"{self.where(path)}: {message}")

    def where(self, path: tuple) -> str:
        """``file:line: dotted.path`` of a field (the nearest enclosing line when it is absent)."""
        line = next((self.lines[path[:n]] for n in range(len(path), 0, -1) if path[:n] in self.lines), None)
        where = f"{self.source}:{line}" if line else self.source
        return f"{where}: {'.'.join(str(p) for p in path) or '(top level)'}"

    def mapping(self, value, path: tuple, allowed: tuple[str, ...]) -> dict | None:
        """The allowed keys of a mapping ({} for null); None, with an error, for anything else."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.error(path, f"expected a mapping, got {kind(value)}")
            return None
        for key in value:
            if not isinstance(key, str):
                self.error(path, f"keys must be strings, got {key!r}")
            elif key not in allowed:
                self.error(path + (key,), f"unknown field; expected one of: {', '.join(allowed)}")
        return {k: v for k, v in value.items() if k in allowed}

    def string(self, value, path: tuple) -> str | None:
        if not isinstance(value, str):
            self.error(path, f"expected a string, got {kind(value)}")
            return None
        return self.interpolate(value, path)

    def interpolate(self, text: str, path: tuple) -> str | None:
        missing = []

        def substitute(match: re.Match) -> str:
            if match.group(0) == "$$":
                return "$"
            name = match.group(1)
            if name not in self.environ:
                missing.append(name)
                return ""
            return self.environ[name]

        result = _VAR_RE.sub(substitute, text)
        for name in missing:
            self.error(path, f"environment variable {name} is not set (used as ${{{name}}})")
        return None if missing else result

    def string_list(self, value, path: tuple) -> list[str] | None:
        if not isinstance(value, list):
            self.error(path, f"expected a list of strings, got {kind(value)}")
            return None
        items = [self.string(item, path + (i,)) for i, item in enumerate(value)]
        return None if any(item is None for item in items) else items

    def choice(self, value, path: tuple, choices: tuple[str, ...]) -> str | None:
        text = self.string(value, path)
        if text is not None and text not in choices:
            self.error(path, f"must be one of {', '.join(choices)}, got {text!r}")
            return None
        return text

    def integer(self, value, path: tuple, low: int, high: int) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(path, f"expected an integer, got {kind(value)}")
            return None
        if not low <= value <= high:
            self.error(path, f"must be between {low} and {high}, got {value}")
            return None
        return value

    def number(self, value, path: tuple, low: float, high: float) -> float | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.error(path, f"expected a number, got {kind(value)}")
            return None
        if not low < value <= high:
            self.error(path, f"must be greater than {low} and at most {high}, got {value}")
            return None
        return float(value)

    def name(self, value, path: tuple) -> str | None:
        text = self.string(value, path)
        if text is not None and not NAME_RE.match(text):
            self.error(path, f"{text!r} is not a valid name: use 1-63 lowercase letters, digits and '-'")
            return None
        return text


def load(text: str, source: str):
    """Load YAML and map each key path to its line, rejecting duplicate keys."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc)
        context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and context_mark:
            problem += f" ({context} started at line {context_mark.line + 1})"
        raise ConfigError([f"{where}: invalid YAML: {problem}"]) from None
    lines: dict[tuple, int] = {}
    duplicates: list[str] = []
    _index(root, (), lines, duplicates, source)
    if duplicates:
        raise ConfigError(duplicates)
    return data, lines


def _index(node, path: tuple, lines: dict, duplicates: list, source: str) -> None:
    if isinstance(node, yaml.MappingNode):
        seen = set()
        for key_node, value_node in node.value:
            key = key_node.value
            child = path + (key,)
            if key in seen:
                dotted = ".".join(str(p) for p in child)
                duplicates.append(f"{source}:{key_node.start_mark.line + 1}: {dotted}: duplicate key")
            seen.add(key)
            lines[child] = key_node.start_mark.line + 1
            _index(value_node, child, lines, duplicates, source)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[path + (i,)] = item.start_mark.line + 1
            _index(item, path + (i,), lines, duplicates, source)


def kind(value) -> str:
    if value is None:
        return "nothing (null)"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list", dict: "a mapping"}.get(
        type(value), type(value).__name__
    ) + (f" ({value!r})" if isinstance(value, (bool, int, float, str)) else "")
