"""The record of measured choices (runtime.autotune): where it lives, its keys, reading and writing
it. No JAX here: `nncompile plan` reads the record without starting a backend.

`autotune.json` next to JAX's compilation cache (`$NNCOMPILE_AUTOTUNE_FILE` overrides): one entry
per program fingerprint (runtime.identity, less the seed, early stopping and float constants),
batch size, backend, device kind and jax version, written atomically (a temporary file renamed over
it; two processes writing at once may lose one entry: it is measured again). An unreadable record
is ignored with a warning (the next fit measures again and writes it anew).
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

from . import jaxcache

VERSION = 1
NOT_KEYED = ("seed", "early_stopping", "autotune", "strategy")  # leave a step's work alone
DEFAULT_ON = False  # see bench/results/autotune.md


def enabled() -> bool:
    """Whether fits may measure (``NNCOMPILE_AUTOTUNE``, default DEFAULT_ON)."""
    value = os.environ.get("NNCOMPILE_AUTOTUNE")
    return DEFAULT_ON if value is None else value.strip().lower() not in jaxcache.OFF


def disable() -> None:
    """No measuring for the rest of the process (``--no-autotune``)."""
    os.environ["NNCOMPILE_AUTOTUNE"] = "0"


def record_path() -> Path:
    if os.environ.get("NNCOMPILE_AUTOTUNE_FILE"):
        return Path(os.environ["NNCOMPILE_AUTOTUNE_FILE"]).expanduser()
    return jaxcache.default_dir().parent / "autotune.json"


def fingerprint(identity: dict[str, Any]) -> str:
    """A program's shape as a short hash: its identity (runtime.identity) less what leaves a step's
    work alone, every float constant set to 0 (learning rates, momenta, dropout rates, split
    fractions: the trials of a sweep share one measurement; widths and shapes are integers)."""
    config = {k: v for k, v in (identity.get("config") or {}).items() if k not in NOT_KEYED}
    code = {k: _floats_zeroed(v) for k, v in (identity.get("code") or {}).items()}
    config = json.loads(json.dumps(config), parse_float=lambda text: 0.0)
    text = json.dumps({"config": config, "code": code}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _floats_zeroed(code: str) -> str:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, float):
            node.value = 0.0
    return ast.unparse(tree)


def key_of(program: str, batch: int, where: dict[str, str]) -> str:
    return f"{program} batch {batch} {where['backend']}/{where['device_kind']} jax {where['jax']}"


# ---- the record file ----------------------------------------------------------------------------
def read(path: Path | None = None) -> dict[str, dict]:
    """The record's entries; {} when there is none, and (with a warning) when it is unreadable."""
    path = path or record_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as e:
        warnings.warn(f"autotune record {path} unreadable ({e}); measuring again", stacklevel=2)
        return {}
    try:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("version") != VERSION:
            raise ValueError(f"not a version {VERSION} record")
        entries = data["entries"]
        if not isinstance(entries, dict) or not all(isinstance(e, dict) for e in entries.values()):
            raise ValueError("its entries are not a mapping of objects")
    except (ValueError, KeyError) as e:
        warnings.warn(
            f"autotune record {path} ignored ({e}); measuring again and writing it anew",
            stacklevel=2,
        )
        return {}
    return entries


def write(key: str, entry: dict, path: Path | None = None) -> None:
    """Add `entry` under `key` (atomically: a temporary file renamed over the record). A record
    that cannot be written only costs a measurement next time."""
    path = path or record_path()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (a corrupt record was reported when it was read)
        entries = read(path)
    entries[key] = entry
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".autotune-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"version": VERSION, "entries": entries}, f, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except OSError:
        pass


def recorded_for(program: str, path: Path | None = None) -> list[dict]:
    """The entries of a program fingerprint, on any machine kind (`nncompile plan` shows them)."""
    return [e for e in read(path).values() if e.get("program") == program]


def describe(entry: dict) -> str:
    """One line: the choice, where it was measured, and each candidate's time."""
    timings = []
    for name, t in entry.get("timings", {}).items():
        if "step_ms" in t:
            timings.append(
                f"{name} {t['step_ms']:.3g} ms/step (compiled in {t['compile_s']:.2f} s)"
            )
        else:
            timings.append(f"{name} {t.get('skipped', 'not measured')}")
    return (
        f"{entry['choice']} (measured on {entry['backend']}/{entry['device_kind']}, jax "
        f"{entry['jax']}, batch {entry['batch']}: " + "; ".join(timings) + ")"
    )
