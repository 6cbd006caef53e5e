"""The LALR parser's tables kept between processes as JSON, not pickle.

Building the parser from grammar/nn.lark (LALR tables, the contextual lexer) costs ~0.07 CPU s a
process. Lark's own `cache=True` saves it with pickle in the shared temporary folder, where another
user's file would be loaded as code; this module keeps the same serialized form (Lark's
`memo_serialize`, what `Lark.save` pickles) as JSON in the user's cache folder
(`$XDG_CACHE_HOME/nncompile/`, else `~/.cache/nncompile/`), named by a hash of the grammar, the
options and Lark's version, and rebuilds the parser from it with Lark's own loader
(`Lark.load` given the dict, not a file: no unpickling): ~0.01 CPU s. JSON has no tuples and no
integer keys, which the tables have: they are written as one-key objects (`TUPLE`, `INT_KEYS`) and
read back as such. A missing, unreadable or damaged file, or a folder that cannot be written, only
means building from the grammar. No switch turns it off (`NNCOMPILE_CACHE=0` is the compilation
cache's): a file is named by what it was built from, so it is never stale.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import lark
from lark import Lark
from lark.grammar import Rule
from lark.lexer import TerminalDef

FORMAT = 1  # of the file: a change of the encoding below changes every file's name
TUPLE = "\x00tuple"
INT_KEYS = "\x00int_keys"


def encode(value: Any) -> Any:
    """Lark's serialized tables -> JSON-safe values (tuples and integer-keyed dicts marked)."""
    if isinstance(value, tuple):
        return {TUPLE: [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {k: encode(v) for k, v in value.items()}
        if all(isinstance(k, int) and not isinstance(k, bool) for k in value):
            return {INT_KEYS: [[k, encode(v)] for k, v in value.items()]}
        raise TypeError(f"keys of mixed types: {list(value)[:3]}")
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"cannot keep a {type(value).__name__} in JSON")


def decode(obj: dict) -> Any:
    """json.loads' object_hook: the inverse of `encode` (lists inside are decoded already)."""
    if len(obj) == 1:
        if TUPLE in obj:
            return tuple(obj[TUPLE])
        if INT_KEYS in obj:
            return {int(k): v for k, v in obj[INT_KEYS]}
    return obj


def cache_file(grammar: str, options: dict[str, Any]) -> Path:
    """Where the tables of this grammar and these options are kept."""
    key = json.dumps([FORMAT, lark.__version__, grammar, sorted(options.items())])
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "nncompile" / f"parser-{digest}.json"


def load(grammar: str, **options: Any) -> Lark:
    """The LALR parser of `grammar`: from its kept tables when they read, else built (and kept)."""
    path = cache_file(grammar, options)
    try:
        kept = json.loads(path.read_text(encoding="utf-8"), object_hook=decode)
        # Lark.load takes the dict Lark.save would pickle (unpickles only a file object)
        return Lark.load({"data": kept["data"], "memo": kept["memo"]})
    except Exception:  # a missing or damaged file (of any content): build from the grammar
        pass
    parser = Lark(grammar, **options)
    keep(parser, path)
    return parser


def keep(parser: Lark, path: Path) -> None:
    """Write the parser's tables to `path` (atomically: a reader never sees half a file)."""
    data, memo = parser.memo_serialize([TerminalDef, Rule])
    try:
        text = json.dumps({"data": encode(data), "memo": encode(memo)}, separators=(",", ":"))
    except (TypeError, ValueError):  # (a Lark whose tables hold something else: not kept)
        return
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".parser-", suffix=".json")
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(temporary, path)
    except OSError:  # a read-only home, a full disk: built again next time
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
