"""`python program.py`: train an emitted program with nncompile's runtime (data, loop, outputs)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def main(path: str) -> None:
    from ..errors import NncompileError
    from .data import DataSpec, load_dataset
    from .gan import GanTrainer, write_samples
    from .identity import program_identity
    from .loop import Trainer, run_config
    from .outputs import write_run
    from .progress import Progress
    from .runfolder import open_run, save_run

    file = Path(path).resolve()
    spec = importlib.util.spec_from_file_location("nncompile_program", file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        config = run_config(module, None, None, None)
        if config.data is None:
            raise NncompileError(
                f"{file.name} has no CONFIG['data']: give the runtime its splits instead",
                "use nncompile.runtime.loop.Trainer(program, splits)",
            )
        dataset = load_dataset(DataSpec.from_config(config.data, config.seed, str(Path.cwd())))
        folder = open_run(Path("runs") / file.stem)  # checked and locked before training
        trainer: Trainer | GanTrainer
        if config.kind == "gan":
            trainer = GanTrainer(module, dataset.splits, callbacks=[Progress()])
        else:
            weights = dataset.weights  # the data's `sample_weight`, per split (or None)
            trainer = Trainer(module, dataset.splits, callbacks=[Progress()], sample_weight=weights)
        history = trainer.fit()
        test = trainer.evaluate("test") if "test" in trainer.splits else {}
        source = file.read_text()

        def write(to: Path) -> None:
            write_run(
                to,
                program_source=source,
                resolved_spec=module.CONFIG,
                history=history,
                test_metrics=test,
                trainer=trainer,
            )
            if isinstance(trainer, GanTrainer):
                write_samples(to, trainer)

        run = save_run(folder, write, program_identity(source))
    except NncompileError as e:
        print(f"{file.name}: {e}", file=sys.stderr)
        sys.exit(1)
    if test:
        print("test: " + "  ".join(f"{k} {v:.4f}" for k, v in test.items()))
    print(f"run folder: {run}")
    sys.exit(130 if history.interrupted else 0)
