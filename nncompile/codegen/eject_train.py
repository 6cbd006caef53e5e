"""train.py and README.md of an ejected folder: a plain Flax NNX loop doing what the runtime does.

The loop follows runtime/loop.py where numbers depend on it: the batch size and drop_remainder, the
per-epoch permutation (numpy Philox keyed by (seed, DATA_STREAM, epoch)), the steps' random keys
(fold_in(fold_in(fold_in(fold_in(key(seed), DATA_STREAM), epoch), 1), step)), early stopping with
min_delta and patience, and restore_best. The metrics are the metric entries' standalone forms,
numpy versions of their accumulators.
"""

from __future__ import annotations

from ..errors import NncompileError
from ..expr import Snippet, in_order, render
from ..registry.balanced import BALANCED
from ..registry.metric_snippets import NP_CLASS_IDS, NP_ERRORS
from ..registry.metrics import METRICS
from ..runconfig import RunConfig
from ..version import __version__
from .eject_weights import TAKE, weighed_loop, weight_name


def metric_entries(config: RunConfig) -> tuple[list[str], list[Snippet]]:
    """The METRICS dict's lines (`"key": function of (outputs, y)`) and the snippets they call: each
    metric entry's standalone form (registry/metrics.py)."""
    lines: list[str] = []
    snippets: list[Snippet] = []
    for m in config.metrics:
        entry = METRICS.get(m.name)
        if entry is None or entry.standalone is None:
            raise NncompileError(
                f"cannot eject: metric {m.name!r} has no standalone form yet",
                "remove it from `metrics` to eject, or train with `nncompile train`",
            )
        p = entry.params.model_validate(m.arguments)
        code = entry.standalone(p)
        lines.append(f"{render(entry.history_key(p))}: {render(code.fn)},")
        snippets += code.snippets
    return lines, snippets


def better(key: str) -> str:
    """The direction a history key improves in (as runtime/metrics.better): 'min' for losses, else
    the metric entry's `better`."""
    base = key.removeprefix("val_")
    if base.endswith("loss"):
        return "min"
    return next((e.better for e in METRICS.entries() if e.names(base)), "max")


TRAIN_LOOP = '''
def epoch_batches(n, size, epoch):
    """Row indices of an epoch's batches: the permutation nncompile draws from (SEED, epoch)."""
    key = (SEED % 2**64) << 64 | DATA_STREAM << 32 | epoch % 2**32
    perm = np.random.Generator(np.random.Philox(key=key)).permutation(n).astype(np.int32)
    steps = n // size
    batches = list(perm[: steps * size].reshape(steps, size))
    if not DROP_REMAINDER and n % size:
        batches.append(perm[steps * size:])
    return batches


def epoch_key(epoch):
    """The random key of an epoch's steps (augmentation, ...): step i uses fold_in(key, i)."""
    root = jax.random.fold_in(jax.random.key(SEED), DATA_STREAM)
    return jax.random.fold_in(jax.random.fold_in(root, epoch), 1)


@nnx.jit
def train_batch(model, optimizer, x, y, key, i):
    return train_step(model, optimizer, x, y, jax.random.fold_in(key, i))


@nnx.jit
def eval_batch(model, x, y):
    return eval_step(model, x, y)


def scores(losses, sizes, outputs, y):
    """The mean loss (weighted by batch size) and the metrics of a split's outputs."""
    loss = float(np.dot(np.asarray(losses, np.float64), sizes) / np.sum(sizes))
    return {"loss": loss, **{name: metric(outputs, y) for name, metric in METRICS.items()}}


def evaluate(model, x, y, size=4096):
    """Loss and metrics of a split in evaluation mode (dropout off)."""
    model.eval()
    results = [eval_batch(model, x[i:i + size], y[i:i + size]) for i in range(0, len(x), size)]
    model.train()
    losses, outputs = jax.device_get(list(zip(*results)))
    sizes = [len(o) for o in outputs]
    return scores(losses, sizes, np.concatenate(outputs), y)


def line(logs):
    return "  ".join(f"{k} {v:.4f}" for k, v in logs.items())
'''

MAIN_LOOP = """
def main():
    parser = argparse.ArgumentParser(description="Train model.py's model on data.py's data.")
    parser.add_argument("--epochs", type=int, default=EPOCHS, help=f"default {EPOCHS}")
    epochs = parser.parse_args().epochs

    splits = load()
@units@    x, y = splits["train"]
@weights@    size = len(x) if BATCH_SIZE == "full" else max(1, min(BATCH_SIZE, len(x)))
    steps = len(x) // size + (0 if DROP_REMAINDER or len(x) % size == 0 else 1)
    model = make_model(SEED)
    optimizer = nnx.Optimizer(model, make_optimizer(steps, epochs), wrt=nnx.Param)
@stopping_init@
    for epoch in range(1, epochs + 1):
        start, before, key = time.perf_counter(), nnx.clone(model), epoch_key(epoch)
        results, rows = [], epoch_batches(len(x), size, epoch)
        for i, batch in enumerate(rows):
            results.append(train_batch(model, optimizer, x[batch], y[batch], key, i))
        losses, outputs = jax.device_get(list(zip(*results)))
        order = np.concatenate(rows)
        logs = scores(losses, [len(b) for b in rows], np.concatenate(outputs), y[order])
        if not np.isfinite(logs["loss"]):
            model@forget@ = before@forget_value@
            print(f"stopped: the training loss became non-finite in epoch {epoch}")
            break
@val@        print(f"epoch {epoch}/{epochs}  {line(logs)}  {time.perf_counter() - start:.2f}s")
@stopping@
@test@

if __name__ == "__main__":
    main()
"""

STOPPING_INIT = """    best, best_epoch, best_model, wait = None, None, None, 0
"""
STOPPING = """        value = logs[MONITOR]
        if best is None or @improved@:
            best, best_epoch, best_model, wait = value, epoch, nnx.clone(model), 0
        else:
            wait += 1
        if wait > 0 and wait >= PATIENCE:
            print(f"stopped: early stopping: {MONITOR} did not improve by more than {MIN_DELTA:g} "
                  f"for {wait} epochs (best {best:.6g} at epoch {best_epoch})")
            break
"""
RESTORE = """    if best_model is not None and best_epoch != epoch:
        model = best_model
        print(f"restored the state of epoch {best_epoch} (best {MONITOR})")
"""


def train_py(title: str, spec: str, config: RunConfig, requires: tuple[str, ...]) -> str:
    """The text of train.py: the run configuration's values as literals, then the loop."""
    assert config.data is not None
    entries, snippets = metric_entries(config)
    has_val, has_test = "val" in config.data.split, "test" in config.data.split
    es = config.early_stopping
    logits = config.output_activation is not None
    batch = config.batch_size
    settings = [
        f"SEED = {render(int(config.seed))}",
        f"EPOCHS = {render(int(config.epochs))}",
        f"BATCH_SIZE = {render(batch if batch == 'full' else int(batch))}",
        f"DROP_REMAINDER = {render(bool(config.drop_remainder))}"
        + ("  # each epoch runs only full batches" if config.drop_remainder else ""),
        "DATA_STREAM = 0x6E6E  # the seed's stream for the data order and the steps' keys",
    ]
    if NP_CLASS_IDS in in_order(snippets):
        what = "logits" if logits else "probabilities"
        settings.append(f"THRESHOLD = {render(0.0 if logits else 0.5)}  # one output unit ({what})")
    if NP_ERRORS in in_order(snippets):
        fused = config.output_activation
        settings.append(
            f"OUTPUT_ACTIVATION = {render(fused)}"
            + ("  # error metrics score probabilities, not logits" if fused else "")
        )
        settings.append(
            "TARGET_SCALE = 1.0  # errors times the targets' spread: main() reads data.py's"
        )
    # with normalize_target, errors are scaled back by data.py's TARGET_SCALE (as runtime.units)
    scaled = NP_ERRORS in in_order(snippets) and str(config.data.normalize_target) != "none"
    stopping_init = stopping = restore = ""
    if es is not None:
        monitor = str(es.monitor)
        if monitor.startswith("val_") and not has_val:
            monitor = monitor[4:]
        settings += [
            f"MONITOR = {render(monitor)}  # early stopping",
            f"PATIENCE = {render(int(es.patience))}",
            f"MIN_DELTA = {render(float(es.min_delta))}",
        ]
        better_ = (
            "value < best - MIN_DELTA" if better(monitor) == "min" else "value > best + MIN_DELTA"
        )
        stopping_init = STOPPING_INIT
        stopping = STOPPING.replace("@improved@", better_)
        if es.restore_best:
            restore = RESTORE
    val = (
        '        logs.update({f"val_{k}": v for k, v in evaluate(model, *splits["val"]).items()})\n'
        if has_val
        else ""
    )
    needs = ", ".join(["jax", "flax", "optax", "numpy", *requires])
    weighed = weight_name(config.data) is not None  # `sample_weight` (codegen.eject_weights)
    lines = [
        f'"""Train {title}.',
        "",
        f"Ejected by nncompile {__version__} (`nncompile eject`); needs only {needs}.",
        "model.py holds the model, optimizer, loss and steps, data.py the data. The batches, their",
        "order and the steps' random keys are those of `nncompile train`: the test metrics match.",
        "",
        "    python train.py [--epochs N]",
        '"""',
        "import argparse",
        "import time",
        "",
        "import jax",
        "import numpy as np",
        "from flax import nnx",
        "",
        *(["import data"] if scaled or weighed else []),
        "from data import load",
        "from model import eval_step, make_model, make_optimizer, train_step",
        "",
        *settings,
        "",
        "",
    ]
    if config.class_weight == "balanced":
        snippets.append(BALANCED)
    lines += [s.code.strip("\n") + "\n\n" for s in in_order(snippets)]
    lines += ["METRICS = {", *[f"    {e}" for e in entries], "}", ""]
    loop = TRAIN_LOOP.rstrip("\n")
    lines += [weighed_loop(loop) if weighed else loop, "", ""]
    forget = (", best_model", ", None") if restore else ("", "")
    test = (
        '    test = evaluate(model, *splits["test"])\n    print(f"test: {line(test)}")\n'
        if has_test
        else ""
    )
    main = MAIN_LOOP
    units = ""
    if scaled:
        units = (
            "    # regression metrics in the targets' units, as `nncompile train` reports them\n"
            "    global TARGET_SCALE\n"
            "    TARGET_SCALE = data.TARGET_SCALE\n"
        )
    weights = ""
    if config.class_weight == "balanced":
        weights = (
            "    # class_weight: balanced -- model.py's CLASS_WEIGHT from the training split\n"
            "    import model as program\n"
            "\n"
            "    program.CLASS_WEIGHT = balanced_class_weight(y)\n"
        )
    if weighed:
        weights += TAKE
    for key, text in (
        ("weights", weights),
        ("units", units),
        ("test", test),
        ("stopping_init", stopping_init),
        ("val", val),
        ("forget", forget[0]),
        ("forget_value", forget[1]),
        ("stopping", stopping.rstrip("\n") + "\n" + restore),
    ):
        main = main.replace(f"@{key}@", text)
    lines.append(weighed_loop(main.strip("\n")) if weighed else main.strip("\n"))
    return "\n".join(lines) + "\n"


def readme(title: str, spec: str, config: RunConfig, requires: tuple[str, ...]) -> str:
    packages = " ".join(["jax", "flax", "optax", "numpy", *requires])
    return f"""# {title}

Ejected by nncompile {__version__} from `{spec}` with `nncompile eject`. It needs no nncompile:

```
pip install {packages}
python train.py              # {int(config.epochs)} epochs, as the spec says
python train.py --epochs 5   # fewer
```

- `model.py`: the model, the optimizer (`make_optimizer`), the loss and the train/eval steps, as
  `nncompile emit` writes them.
- `data.py`: the data pipeline (source, split, normalisation) for the spec's data block.
- `train.py`: a plain training loop. Batches, their order and the steps' random keys are those of
  `nncompile train`, so it prints the same test metrics (`test: loss ...`).
"""
