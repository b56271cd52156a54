"""The fast path of a compiled --log-format: a capture-free match that proves a line's shape, then plain splits.

Capturing a dozen groups costs RE2 four times what proving the whole line with its DFA does. Nearly every
line of a real log has the plain shape: quoted fields without `"` or backslashes, single spaces between
fields, no spaces inside unquoted values. For such a line, splitting on `"` and then on spaces gives exactly
the values the format's regex would capture; every other line still goes through that regex. The format
qualifies when each quoted field holds one variable and each space-separated piece of the rest holds at
most one (`[$time_local]` is fine: the fixed space inside its shape is accounted for).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
QUOTED_PLAIN = r'[^"\\]*'


@dataclass(frozen=True)
class SplitPlan:
    pattern: str  # capture-free; a full match means `values` equal the format regex's groups
    values: tuple[str, ...]  # one SQL expression per variable, over `parts` = string_split(line, '"')


def split_plan(text: str, shapes: dict[str, str]) -> SplitPlan | None:
    """The plan for a format text (nginx variables), or None when its shape does not allow plain splits."""
    segments = text.split('"')
    if len(segments) % 2 == 0:
        return None
    patterns: list[str] = []
    values: list[str] = []
    for index, segment in enumerate(segments):
        part = f"parts[{index + 1}]"
        if index % 2:
            if not VARIABLE.fullmatch(segment):
                return None
            patterns.append(QUOTED_PLAIN)
            values.append(part)
            continue
        planned = _unquoted(segment, part, shapes)
        if planned is None:
            return None
        patterns.append(planned[0])
        values.extend(planned[1])
    return SplitPlan('"'.join(patterns), tuple(values))


def _unquoted(segment: str, part: str, shapes: dict[str, str]) -> tuple[str, list[str]] | None:
    """Pattern and value expressions of the text between two quoted fields, split on single spaces."""
    pieces = re.split(r"\s+", segment)
    patterns: list[str] = []
    values: list[str] = []
    field = 1  # which space-separated field of the line's segment the piece starts at
    for piece in pieces:
        found = list(VARIABLE.finditer(piece))
        if len(found) > 1:
            return None
        if not found:
            patterns.append(re.escape(piece))
            field += 1
            continue
        m = found[0]
        name, prefix, suffix = m.group(1) or m.group(2), piece[:m.start()], piece[m.end():]
        shape = shapes.get(name)
        if shape is None:  # the format's regex runs such a value to the next literal character: leave that out
            shape = r'[^\s"\\' + re.escape(suffix[:1]) + "]*"
        elif re.search(r"\\s| [*+?{]", shape):
            return None  # a value with a varying number of spaces cannot be split on spaces
        patterns.append(re.escape(prefix) + f"(?:{shape})" + re.escape(suffix))
        spaces = shape.count(" ")
        text = " || ' ' || ".join(f"split_part({part}, ' ', {field + k})" for k in range(spaces + 1))
        values.append(_strip(text, len(prefix), len(suffix)))
        field += spaces + 1
    return " ".join(patterns), values


def _strip(expr: str, prefix: int, suffix: int) -> str:
    if not prefix and not suffix:
        return expr
    return f"substr({expr}, {prefix + 1}, length({expr}) - {prefix + suffix})"
