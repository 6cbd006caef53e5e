"""`python program.py`: train an emitted program file with nncompile's runtime (data, loop, outputs)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def main(path: str) -> None:
    from ..api import data_spec
    from ..errors import NncompileError
    from .data import load_dataset
    from .loop import Trainer
    from .outputs import write_run
    from .progress import Progress

    file = Path(path).resolve()
    spec = importlib.util.spec_from_file_location("nncompile_program", file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        dataset = load_dataset(data_spec(module.CONFIG, str(Path.cwd())))
        trainer = Trainer(module, dataset.splits, callbacks=[Progress()])
        history = trainer.fit()
        test = trainer.evaluate("test") if "test" in dataset.splits else {}
        run = write_run(Path("runs") / file.stem, program_source=file.read_text(), resolved_spec=module.CONFIG,
                        history=history, test_metrics=test, trainer=trainer)
    except NncompileError as e:
        print(f"{file.name}: {e}", file=sys.stderr)
        sys.exit(1)
    if test:
        print("test: " + "  ".join(f"{k} {v:.4f}" for k, v in test.items()))
    print(f"run folder: {run}")
    sys.exit(130 if history.interrupted else 0)
