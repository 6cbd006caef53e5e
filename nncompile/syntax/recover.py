"""Every syntax error of a file in one run, without cascades, and the items that did parse.

The parser stops at the first error. Recovery resynchronises at item boundaries: a line that
starts, at column 1, a top-level item (`let NAME =`, `data NAME {`, `model NAME {` or `(`,
`train [NAME] {`, `sweep [NAME] {`). Each round parses the rest of the file from where the last
broken item ended, so every error is diagnosed with the same words as if it were the first; the
item it lies in is dropped and parsing resumes after it. Inside a broken item, further errors are
found by blanking the line of the error (when the error is at a statement of a block and the line
is bracket-balanced, so blanking it leaves the rest of the block intact) and parsing again: an
error on a later line is a second mistake, anything else would be a cascade and is not reported.

``parse_all`` returns the items that parsed (semantic checks run on them), the diagnostics, and
the names of the items that did not parse (the semantic checks' complaints about those are
follow-on errors, filtered out by the caller).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from lark import Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from ..diagnostics import CompileError, Diagnostic
from ..source import Source, Span
from . import ast
from .diagnose import check_nesting, diagnose
from .lines import scan

MAX_ERRORS = 50  # per file; more would bury the first ones
MAX_PER_ITEM = 10

# a top-level item starting at column 1: (kind, name) from the line
_ITEM = re.compile(
    r"(?:(let)\s+(\w+)|(data)\s+(\w+)\s*\{|(model)\s+(\w+)\s*[({]"
    r"|(train)(?:\s+(\w+))?\s*\{|(sweep)(?:\s+(\w+))?\s*\{)"
)


@dataclass
class Result:
    spec: ast.Spec
    diagnostics: list[Diagnostic]
    broken: set[str]  # names of the items that did not parse


def item_starts(lines: list[str]) -> list[int]:
    """Line numbers (1-based) where a top-level item starts."""
    return [n for n, line in enumerate(lines, 1) if _ITEM.match(line)]


def item_name(line: str) -> str | None:
    m = _ITEM.match(line)
    if m is None:
        return None
    groups = m.groups()
    for kind, name in zip(groups[0::2], groups[1::2], strict=True):
        if kind:
            return name or "main"  # an unnamed train or sweep block is `main`
    return None


def parse_all(source: Source, parser, build) -> Result:
    """``parser``: the Lark parser; ``build(tree, source) -> ast.Spec``."""
    check_nesting(source)
    try:
        return Result(build(parser.parse(source.text), source), [], set())
    except UnexpectedInput:
        pass
    return _Recovery(source, parser, build).run()


class _Recovery:
    def __init__(self, source: Source, parser, build):
        self.source, self.parser, self.build = source, parser, build
        self.lines = source.text.split("\n")
        starts = item_starts(self.lines)
        self.bounds = sorted({1, *starts})  # segment i: bounds[i] .. bounds[i + 1] - 1
        self.starts = set(starts)
        self.items: list[ast.Item] = []
        self.diagnostics: list[Diagnostic] = []
        self.broken: set[str] = set()

    def run(self) -> Result:
        self.parse_range(1, len(self.lines))
        spec = ast.Spec(tuple(self.items), self.source.path)
        return Result(spec, self.diagnostics, self.broken)

    def parse_range(self, first: int, last: int) -> None:
        """Parse lines first..last (whole items), keeping what parses and reporting the rest."""
        line = first
        while line <= last and len(self.diagnostics) < MAX_ERRORS:
            tail = self.padded(line, last)
            try:
                tree = self.parser.parse(tail.text)
            except UnexpectedInput as e:
                seg = max(self.segment_of(e, last), self.segment_at(line))
                seg_start, seg_end = self.bounds[seg], min(self.segment_end(seg), last)
                if seg_start > line:  # the items before the broken one: do they parse alone?
                    before = self.padded(line, seg_start - 1)
                    try:
                        self.add(self.parser.parse(before.text), before)
                    except UnexpectedInput:  # no: one of them swallowed the next item's start
                        self.parse_range(line, seg_start - 1)
                        line = seg_start
                        continue
                d = self.diagnose(e, tail, last)
                self.diagnostics.append(d)
                self.more_errors(e, d, seg_start, seg_end)
                self.mark_broken(seg_start)
                line = seg_end + 1
                continue
            self.add(tree, tail)
            return

    def mark_broken(self, line: int) -> None:
        name = item_name(self.lines[line - 1])
        if name is not None:
            self.broken.add(name)

    # ---- segments -----------------------------------------------------------------------
    def segment_end(self, seg: int) -> int:
        return self.bounds[seg + 1] - 1 if seg + 1 < len(self.bounds) else len(self.lines)

    def segment_at(self, line: int) -> int:
        return max(0, bisect.bisect_right(self.bounds, line) - 1)

    def segment_of(self, e: UnexpectedInput, last: int) -> int:
        """The item the error lies in: the one before when the error is the next item's start."""
        line, column = _place(e, last)
        seg = self.segment_at(line)
        if seg > 0 and line in self.starts and line == self.bounds[seg] and column == 1:
            return seg - 1
        return seg

    def padded(self, first: int, last: int, blank: frozenset[int] = frozenset()) -> Source:
        """Lines first..last of the file at their own line numbers (the others empty)."""
        body = [
            " " * len(text) if n in blank else text
            for n, text in enumerate(self.lines[first - 1 : last], first)
        ]
        return Source("\n" * (first - 1) + "\n".join(body), self.source.path)

    # ---- items that parse -----------------------------------------------------------------
    def add(self, tree: Tree, part: Source) -> None:
        try:
            self.items.extend(self.build(tree, part).items)
        except CompileError as e:  # a number no parameter can take, found while building
            self.diagnostics.extend(e.diagnostics)
            for item in tree.children:
                self.mark_broken(item.meta.line)

    # ---- errors -------------------------------------------------------------------------
    def diagnose(self, e: UnexpectedInput, part: Source, last: int) -> Diagnostic:
        """Lark's error in the language's words; the end of a range that is not the end of the
        file is where the next item starts."""
        d = diagnose(e, part)
        message, span, hint = d.message, d.span, d.hint
        if last < len(self.lines) and message.startswith("unexpected end of file"):
            after = self.lines[last].split()[0]
            message = f"unexpected '{after}' at line {last + 1}" + message[22:]
            if hint and hint.startswith("add the closing"):
                hint += f" before line {last + 1}"
            if message == f"unexpected '{after}' at line {last + 1}":  # an unfinished item
                code_lines = [n for n in range(1, last + 1) if _code(self.lines[n - 1]).strip()]
                n = code_lines[-1] if code_lines else 1
                column = len(_code(self.lines[n - 1]).rstrip()) + 1
                span = Span(n, column, n, column + 1)
                message = f"unexpected end of the item: line {last + 1} starts a new `{after}`"
                hint = hint or f"complete it before line {last + 1}"
        return Diagnostic(d.code, message, span, hint, self.source.path, d.severity)

    def more_errors(self, e: UnexpectedInput, d: Diagnostic, start: int, end: int) -> None:
        """Later mistakes inside the broken item: blank the line of each and parse again."""
        blank: set[int] = set()
        last_line = _place(e, end)[0]
        text = self.padded(start, end)
        for _ in range(MAX_PER_ITEM):
            if not self.blankable(e, d, text, start, end):
                return
            blank.add(last_line)
            text = self.padded(start, end, frozenset(blank))
            try:
                self.parser.parse(text.text)
                return
            except UnexpectedInput as again:
                e = again
            line = _place(e, end)[0]
            if line <= last_line:
                return  # the same place again: a follow-on error
            d = self.diagnose(e, text, end)
            self.diagnostics.append(d)
            if line > end or len(self.diagnostics) >= MAX_ERRORS:
                return
            last_line = line

    def blankable(self, e, d: Diagnostic, text: Source, start: int, end: int) -> bool:
        """Whether the error is a statement's own (blanking its line leaves the item whole)."""
        if isinstance(e, UnexpectedToken) and e.token.type == "$END":
            return False
        line, _ = _place(e, end)
        if not start < line <= end or d.span.line != line:
            return False
        if not _balanced(self.lines[line - 1]):
            return False
        depth = _open_before(text.text, line)
        return bool(depth) and depth[-1] == "{"


def _place(e: UnexpectedInput, last_line: int) -> tuple[int, int]:
    if isinstance(e, UnexpectedToken) and e.token.type == "$END":
        return last_line + 1, 1
    if isinstance(e, UnexpectedCharacters):
        return e.line, e.column
    assert isinstance(e, UnexpectedToken)
    return e.token.line or last_line, e.token.column or 1


def _code(line: str) -> str:
    """A line without its strings and comment."""
    return scan(line)[0]


def _balanced(line: str) -> bool:
    code = _code(line)
    return all(code.count(a) == code.count(b) for a, b in ("()", "[]", "{}"))


def _open_before(text: str, line: int) -> list[str]:
    """The brackets still open at the start of ``line``."""
    stack: list[str] = []
    for raw in text.split("\n")[: line - 1]:
        for ch in _code(raw):
            if ch in "([{":
                stack.append(ch)
            elif ch in ")]}" and stack:
                stack.pop()
    return stack
