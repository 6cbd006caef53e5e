"""Parse tree + comments -> the canonical text of a spec (what `nncompile fmt` writes).

The layout: two-space indentation; one statement or property per line; `key: value` with the
values of consecutive properties aligned (so are the `=` of consecutive `let`s and bindings; names
longer than ``ALIGN`` characters neither set nor follow the column); a blank line around blocks,
and at most one blank line kept where the author put one; single spaces after commas and around
arithmetic operators, parentheses only where precedence needs them; numbers and strings as
written. A value longer than ``WIDTH`` columns is broken one item per line with a trailing comma.

Comments are kept: a comment on its own line stays before what follows it; a comment at the end of
a line stays there (consecutive ones are aligned, and a comment-only line right under one, at its
column, stays under it as its continuation); a comment inside a statement broken over several
lines moves above the statement.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lark import Token, Tree

from .lines import scan

WIDTH = 100
ALIGN = 10
INDENT = "  "


# ---- comments ---------------------------------------------------------------------------
def comments_of(lines: list[str]) -> dict[int, tuple[int, str]]:
    """line number -> (0-based column, comment text) for every `#` comment outside strings."""
    out: dict[int, tuple[int, str]] = {}
    for number, line in enumerate(lines, 1):
        column = scan(line)[1]
        if column is not None:
            out[number] = (column, line[column:].rstrip())
    return out


# ---- values as documents: a str, a bracketed sequence or a concatenation --------------------
@dataclass
class Seq:
    open: str
    items: list
    close: str


@dataclass
class Cat:
    parts: list


def flat(doc) -> str:
    if isinstance(doc, str):
        return doc
    if isinstance(doc, Seq):
        return doc.open + ", ".join(flat(i) for i in doc.items) + doc.close
    return "".join(flat(p) for p in doc.parts)


def layout(doc, indent: int, prefix: str, suffix: str = "") -> list[str]:
    """``prefix + doc + suffix`` on one line when it fits in WIDTH, else broken at its brackets."""
    text = prefix + flat(doc) + suffix
    if len(text) <= WIDTH:
        return [text]
    if isinstance(doc, Seq) and doc.items:
        out = [prefix + doc.open]
        pad = " " * (indent + len(INDENT))
        if all(isinstance(i, str) for i in doc.items):  # numbers and names: filled lines
            line = pad
            for item in doc.items:
                if line != pad and len(line) + len(item) + 1 > WIDTH:
                    out.append(line.rstrip())
                    line = pad
                line += item + ", "
            out += [line.rstrip(), " " * indent + doc.close + suffix]
            return out
        for item in doc.items:
            out += layout(item, indent + len(INDENT), pad, ",")
        out.append(" " * indent + doc.close + suffix)
        return out
    if isinstance(doc, Cat):
        seqs = [i for i, p in enumerate(doc.parts) if isinstance(p, (Seq, Cat))]
        if seqs:
            k = max(seqs, key=lambda i: len(flat(doc.parts[i])))
            before = "".join(flat(p) for p in doc.parts[:k])
            after = "".join(flat(p) for p in doc.parts[k + 1 :])
            return layout(doc.parts[k], indent, prefix + before, after + suffix)
    return [text]


_PRECEDENCE = {"add": 1, "sub": 1, "mul": 2, "div": 2, "floordiv": 2, "neg": 3}
_OPS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "floordiv": "//"}


def _kids(t: Tree) -> list:
    return [c for c in t.children if c is not None]


def value(t):
    """A value's document (numbers and strings keep their text)."""
    if isinstance(t, Token):
        return str(t)
    kind = t.data
    if kind in ("number", "string", "true", "false", "name"):
        return str(t.children[0])
    if kind == "call":
        name, arguments = t.children
        return Cat([str(name), arguments_doc(arguments)])
    if kind == "list":
        return Seq("[", [value(c) for c in _kids(t)], "]")
    if kind == "dict":
        return Seq("{", [pair(p) for p in _kids(t)], "}")
    if kind in _OPS:
        left, right = t.children
        return f"{_operand(left, kind, False)} {_OPS[kind]} {_operand(right, kind, True)}"
    if kind == "neg":
        operand = t.children[0]
        text = flat(value(operand))
        tight = isinstance(operand, Tree) and (
            operand.data in _OPS
            or operand.data == "neg"
            or (operand.data == "number" and text[:1] in "+-")
        )
        return f"-({text})" if tight else f"-{text}"
    raise AssertionError(f"unhandled value rule {kind}")


def _operand(t, parent: str, right: bool) -> str:
    text = flat(value(t))
    mine = _PRECEDENCE.get(t.data, 4) if isinstance(t, Tree) else 4
    outer = _PRECEDENCE[parent]
    return f"({text})" if mine < outer or (right and mine == outer) else text


def key_text(t) -> str:
    token = t.children[0] if isinstance(t, Tree) else t
    return str(token)


def pair(t: Tree):
    key, v = t.children
    return Cat([f"{key_text(key)}: ", value(v)])


def arguments_doc(t: Tree) -> Seq:
    items: list = []
    for a in _kids(t):
        if a.data == "positional":
            items.append(value(a.children[0]))
        else:
            name, v = a.children
            items.append(Cat([f"{name}=", value(v)]))
    return Seq("(", items, ")")


# ---- rows: the lines of one statement, with what alignment and comments need ----------------
@dataclass
class Row:
    doc: object = None  # the statement's value document (None: ``lines`` are final)
    left: str = ""  # `key:`, `let name` or `a, b` -- aligned across a run
    joiner: str = ""
    group: str = ""  # which rows align together: "property", "let", "bind" ("": none)
    lines: list[str] = field(default_factory=list)
    trailing: list[str] = field(default_factory=list)  # the end-of-line comment (+ continuations)
    trailing_column: int = -1  # its column in the source (continuations must match it)
    column: int = -1  # the column its end-of-line comment is aligned to (-1: two spaces after)
    comment: bool = False  # a comment on its own line
    block: bool = False  # a block (top level)
    blank: bool = False  # a blank line before it
    first: int = 0  # first and last source line
    last: int = 0


class Printer:
    def __init__(self, text: str):
        self.lines = [line.rstrip("\r") for line in text.split("\n")]
        self.comments = comments_of(self.lines)

    def blank_between(self, a: int, b: int) -> bool:
        """Whether a blank line lies strictly between source lines ``a`` and ``b``."""
        return any(not self.lines[n - 1].strip() for n in range(a + 1, b))

    # containers ---------------------------------------------------------------------------
    def container(self, elements: list[tuple[Tree, Row]], lo: int, hi: int, indent: int):
        """Rows of the elements plus the comments in source lines [lo, hi], in source order."""
        rows: list[Row] = []
        taken = sorted(n for n in self.comments if lo <= n <= hi)
        spans = [(t.meta.line, t.meta.end_line) for t, _ in elements]
        i = 0
        for k, (_, row) in enumerate(elements):
            start, end = spans[k]
            next_start = spans[k + 1][0] if k + 1 < len(spans) else None
            while i < len(taken) and taken[i] < start:
                self._comment_row(rows, taken[i])
                i += 1
            inner = []
            while i < len(taken) and taken[i] <= end:
                inner.append(taken[i])
                i += 1
            if not row.block:
                for n in inner:
                    if n == end and next_start != end:
                        row.trailing = [self.comments[n][1]]
                        row.trailing_column = self.comments[n][0]
                    else:  # inside a statement broken over lines: moved above it
                        rows.append(self._standalone(n, n))
                        start = min(start, n)
            row.first, row.last = start, end
            rows.append(row)
        while i < len(taken):
            self._comment_row(rows, taken[i])
            i += 1
        for k, row in enumerate(rows):
            row.blank = k > 0 and self.blank_between(rows[k - 1].last, row.first)
            if not row.lines:
                row.lines = layout(row.doc, indent, " " * indent + row.left + row.joiner)
        return rows

    def _standalone(self, line: int, at: int) -> Row:
        return Row(lines=[self.comments[line][1]], comment=True, first=at, last=at)

    def _comment_row(self, rows: list[Row], line: int) -> None:
        column, text = self.comments[line]
        prev = rows[-1] if rows else None
        if (
            prev is not None
            and not prev.comment
            and prev.trailing
            and prev.last + len(prev.trailing) == line
            and prev.trailing_column == column
        ):  # a continuation of the comment at the end of the line above
            prev.trailing.append(text)
            return
        rows.append(self._standalone(line, line))

    # statements ---------------------------------------------------------------------------
    def statement(self, t: Tree) -> Row:
        kind = t.data
        if kind == "let_stmt":
            name, v = t.children
            return Row(value(v), f"let {name}", " = ", "let")
        if kind == "property":
            key, v = t.children
            return Row(value(v), f"{key_text(key)}:", " ", "property")
        if kind == "input_stmt":
            _, name, shape = t.children
            int_type, *dims = shape.children
            opener = "int[" if int_type else "["
            return Row(Cat([f"input {name}: ", Seq(opener, [value(d) for d in dims if d], "]")]))
        if kind == "output_stmt":
            return Row("output " + ", ".join(str(n) for n in t.children[1:]))
        if kind == "layer_stmt":
            targets, name, arguments, inputs = t.children
            parts: list = [str(name)]
            if arguments is not None:
                parts.append(arguments_doc(arguments))
                if inputs is not None:
                    parts.append(Seq("(", [str(n) for n in _kids(inputs)], ")"))
            if targets is None:
                return Row(Cat(parts))
            left = ", ".join(str(n) for n in _kids(targets))
            return Row(Cat(parts), left, " = ", "bind")
        raise AssertionError(f"unhandled statement {kind}")

    def block(self, t: Tree, indent: int) -> Row:
        kind = t.data.removesuffix("_block")
        children = list(t.children)
        header = kind
        header_end = t.meta.line
        if kind == "model":
            name, params, *body = children
            header += f" {name}"
            if params is not None:
                header += flat(Seq("(", [self.param(p) for p in _kids(params)], ")"))
                header_end = params.meta.end_line
        else:
            name, *body = children
            if name is not None:
                header += f" {name}"
        body = [b for b in body if isinstance(b, Tree)]
        close = t.meta.end_line
        elements = [(b, self.statement(b)) for b in body]
        lo = header_end + 1
        if body and body[0].meta.line <= header_end:  # `train { epochs: 3  # ...`
            lo = header_end
        head_comments = [n for n in self.comments if t.meta.line <= n < lo]
        rows = self.container(elements, lo, close, indent + len(INDENT))
        closing = None
        if (
            close in self.comments
            and close > header_end
            and not any(b.meta.end_line == close for b in body)
        ):
            closing = self.comments[close][1]
            rows = [r for r in rows if not (r.comment and r.first == close)]
        header_comment = None
        above = []
        for n in sorted(head_comments):
            if n == header_end:
                header_comment = self.comments[n][1]
            else:
                above.append(self.comments[n][1])
        lines = [" " * indent + c for c in above]
        opener = " " * indent + header + " {"
        if not rows and closing is None and header_comment is None:
            lines.append(opener + "}")
            return Row(lines=lines, block=True)
        lines.append(opener + (f"  {header_comment}" if header_comment else ""))
        lines += finish(rows, indent + len(INDENT))
        lines.append(" " * indent + "}" + (f"  {closing}" if closing else ""))
        return Row(lines=lines, block=True)

    def param(self, t: Tree):
        name, default = t.children
        return str(name) if default is None else Cat([f"{name}=", value(default)])

    def spec(self, tree: Tree) -> str:
        items = [c for c in tree.children if isinstance(c, Tree)]
        elements = [
            (t, self.block(t, 0) if t.data.endswith("_block") else self.statement(t)) for t in items
        ]
        rows = self.container(elements, 1, len(self.lines), 0)
        for k in range(1, len(rows)):
            before, row = rows[k - 1], rows[k]
            if before.block or (row.block and not (before.comment and not row.blank)):
                row.blank = True
        text = "\n".join(finish(rows, 0))
        return text + "\n" if text else ""


def finish(rows: list[Row], indent: int) -> list[str]:
    """The rows' lines: values aligned within runs, end-of-line comments aligned, blank lines."""
    _align_values(rows, indent)
    _align_comments(rows)
    out: list[str] = []
    for k, row in enumerate(rows):
        if row.blank and k > 0:
            out.append("")
        if row.comment:
            out.append(" " * indent + row.lines[0])
            continue
        lines = list(row.lines)
        if row.trailing:
            column = row.column if row.column >= 0 else len(lines[-1]) + 2
            lines[-1] = lines[-1].ljust(column) + row.trailing[0]
            lines += [" " * column + c for c in row.trailing[1:]]
        out += lines
    return out


def _align_values(rows: list[Row], indent: int) -> None:
    run: list[Row] = []
    for row in [*rows, None]:
        if row is None or row.blank or row.comment or (run and row.group != run[0].group):
            _pad(run, indent)
            run = []
        if row is not None and row.group:
            run.append(row)


def _pad(run: list[Row], indent: int) -> None:
    eligible = [r for r in run if len(r.left) <= ALIGN + 1]
    if len(eligible) < 2:
        return
    width = max(len(r.left) for r in eligible)
    for r in eligible:
        prefix = " " * indent + r.left + r.joiner
        r.lines[0] = " " * indent + r.left.ljust(width) + r.joiner + r.lines[0][len(prefix) :]


def _align_comments(rows: list[Row]) -> None:
    group: list[Row] = []
    for row in [*rows, None]:
        if row is None or row.blank or row.comment or not row.trailing or len(row.lines) != 1:
            if len(group) > 1:
                column = max(len(r.lines[0]) for r in group) + 2
                for r in group:
                    r.column = column
            group = []
        if row is not None and not row.comment and row.trailing and len(row.lines) == 1:
            group.append(row)
