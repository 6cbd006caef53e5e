"""bench/'s scripts as modules, for the tests that check them (bench/ is not a package):
`bench_module("run")` imports bench/run.py afresh as `bench_run` (registered in sys.modules, where
its dataclasses look their module up), so a test may patch its module without touching another
test's."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[1] / "bench"


def bench_module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
