"""`nncompile eject`: a self-contained folder -- the emitted program, a plain training loop and the
data loading -- that trains with jax, flax, optax and numpy only (and the data's own loader, e.g.
scikit-learn), nncompile uninstalled, and prints the test metrics as `nncompile train` does.

    model.py   the emitted program (model, optimizer, loss, steps, CONFIG), no `__main__` block
    data.py    nncompile's data pipeline for the train block's data (`eject_data`), loading it with
               the source entry's standalone form (`Source.standalone`)
    train.py   the training loop: nncompile's batches, their order and random keys, early stopping;
               the metrics are the metric entries' standalone forms (`Metric.standalone`)
    README.md  how to run it and what it needs

The settings come from the emitted program's CONFIG (a `RunConfig`, read at eject time and written
as literals);
nothing the spec says is written into the code but rendered literals (`expr.render`, repr).
"""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

from ..errors import NncompileError
from ..registry.sources import SOURCES
from ..registry.standalone import EjectRequest
from ..runconfig import RunConfig
from ..semantics import ir
from ..semantics.ir import select_train
from ..semantics.layerloss import recorded_keys
from .eject_data import data_py
from .eject_train import readme, train_py
from .emit import emit_program


def eject(program: ir.Program, train_name: str | None, out_dir: Path) -> list[Path]:
    """Write the ejected folder of one train block into `out_dir` (created; its files replaced).

    Returns the paths written. GANs, `init: checkpoint(...)`, `unfreeze_after` and
    reduce_on_plateau are refused (their runtime parts are not written out)."""
    train = select_train(program, train_name)
    spec = doc_text(Path(program.source.path).name)
    if train.model is None:
        raise NncompileError(
            f"cannot eject `train {train.name}`: adversarial (GAN) programs are not supported yet",
            "train it with `nncompile train`",
        )
    if train.several:
        raise NncompileError(
            f"cannot eject `train {train.name}`: models with several inputs or outputs are not "
            "supported yet",
            "train it with `nncompile train`",
        )
    stop = train.props.early_stopping
    if stop is not None and stop.monitor.removeprefix("val_") in recorded_keys(train.model):
        raise NncompileError(
            f"cannot eject `train {train.name}`: early stopping monitors {stop.monitor}, a layer's "
            "loss term, which the ejected train.py does not record yet (its loss includes it)",
            "monitor val_loss to eject, or train with `nncompile train`",
        )
    source = emit_program(program, train.name, standalone=True)
    config = RunConfig.load(read_config(source))
    transfer = config.transfer
    for what, used in (
        ("init: checkpoint(...)", transfer and transfer.init),
        ("unfreeze_after", transfer and transfer.unfreeze_after),
        ("reduce_on_plateau", config.plateau),
        ("weighted_metrics", config.weighted_metrics),
    ):
        if used:
            raise NncompileError(
                f"cannot eject `train {train.name}`: {what} needs nncompile's runtime",
                f"remove `{what.split(':')[0]}` to eject, or train with `nncompile train`",
            )
    data = config.data
    if data is None:
        raise NncompileError(f"cannot eject `train {train.name}`: it names no data block")
    entry = SOURCES.get(data.source)
    if entry is None or entry.standalone is None:
        raise NncompileError(
            f"cannot eject `train {train.name}`: source {data.source!r} has no standalone form yet",
            "train it with `nncompile train`",
        )
    if data.pad is not None:
        raise NncompileError(
            f"cannot eject `train {train.name}`: its data masks padding (`pad: {data.pad}`), which "
            "the standalone metrics do not yet",
            "train it with `nncompile train`",
        )
    base = train.data.base_dir
    windows = data.windows.model_dump() if data.windows is not None else None
    request = EjectRequest(windows, Path(base) if base else None)
    loader = entry.standalone(entry.params.model_validate(data.args), request)
    title = f"model {train.model.name} on data {train.data.name} (`train {train.name}` of {spec})"
    files = {
        "model.py": source,
        "data.py": data_py(
            f"Data {train.data.name} of {spec}, prepared as nncompile prepares it.",
            data,
            config.seed,
            loader,
            tokens=train.data.info.token_ids,
        ),
        "train.py": train_py(title, spec, config, loader.requires),
        "README.md": readme(title, spec, config, loader.requires),
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, path in loader.files.items():
        if not path.is_file():
            raise NncompileError(
                f"cannot eject: data file {path} does not exist", "eject where the data is"
            )
        (out / "data").mkdir(exist_ok=True)
        written.append(Path(shutil.copyfile(path, out / "data" / name)))
    for name, text in files.items():
        (out / name).write_text(text)
        written.append(out / name)
    return written


def doc_text(text: str) -> str:
    """User text (a file name) made safe for a docstring or a Markdown line: odd characters -> _."""
    return re.sub(r"[^\w.+\- ]", "_", text)


def read_config(source: str) -> dict:
    """The emitted program's CONFIG dict literal."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "CONFIG" for t in node.targets
        ):
            return ast.literal_eval(node.value)
    raise NncompileError("internal error: the emitted program has no CONFIG literal")
