"""`nncompile export`: a trained run as a serialized StableHLO inference function (`jax.export`).

The artifact is one file holding `jax.export.Exported.serialize()`: the whole of `nncompile
predict` as one function of a batch of raw inputs,

    raw features (b, *input_shape) --normalise (training statistics)--> reshape --> model (eval
    mode: dropout off, BatchNorm running statistics) --> output activation --> targets in data units

with the batch size `b` symbolic (any size) and the parameters **baked in** as constants: the file
is self-contained, and reloading it needs only `jax` (no flax, no nncompile, no run folder):

    from jax import export
    fn = export.deserialize(bytearray(open("model.stablehlo", "rb").read()))
    probabilities = fn.call(x)          # x: float32 (b, *input_shape), int32 for token inputs

Baking the parameters in costs the file their size (a 100k-parameter model is ~0.4 MB) and
buys a one-argument function that cannot be called with the wrong weights. To ship weights
separately, load params/ in plain Flax instead (docs/emitted-program.md).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import NncompileError
from .safefiles import atomic_write

DEFAULT_PLATFORMS = ("cpu", "cuda")
PLATFORMS = ("cpu", "cuda", "rocm", "tpu")  # what jax.export lowers for (and loads on)


class ExportError(NncompileError):
    """The run cannot be exported."""


def inference_function(trainer, dataset=None):
    """(fn, input ShapeDtypeStruct with a symbolic batch): raw inputs -> predictions, the
    parameters as constants.

    `trainer` holds the trained model; `dataset` (runtime.data.Dataset, None when the data did not
    come from the spec) gives the normalisation and the input shape."""
    from flax import nnx

    from .state import is_key

    if trainer.config.kind == "gan":
        raise ExportError(
            "export supports supervised programs; this is a GAN",
            "export is for models with `model:`",
        )
    view = nnx.view(
        trainer.model, deterministic=True, use_running_average=True, raise_if_not_found=False
    )
    graphdef, state = nnx.split(view)
    pure = nnx.to_pure_dict(state)
    # typed PRNG keys (dropout streams, unused in eval mode) are kept as raw key data constants
    impls = jax.tree.map(lambda a: jax.random.key_impl(a) if is_key(a) else None, pure)
    raw = jax.tree.map(lambda a: np.asarray(jax.random.key_data(a) if is_key(a) else a), pure)
    predict = trainer.program.predict

    if dataset is not None:
        stats = dataset.stats
        input_shape = tuple(stats["input_shape"])
        feature_shape = tuple(dataset.feature_shape)
        tokens = dataset.task == "sequence"
        x_stat, y_stat = stats.get("x"), stats.get("y") if dataset.task == "regression" else None
    else:
        x_train = trainer.splits["train"][0]
        input_shape = feature_shape = tuple(x_train.shape[1:])
        tokens = np.issubdtype(x_train.dtype, np.integer)
        x_stat = y_stat = None

    def infer(x):
        if x_stat is not None and not tokens:
            x = (x - jnp.asarray(x_stat["shift"], jnp.float32)) / jnp.asarray(
                x_stat["scale"], jnp.float32
            )
        x = x.reshape(x.shape[0], *feature_shape)
        leaves = jax.tree.map(
            lambda a, impl: jax.random.wrap_key_data(a, impl=impl) if impl is not None else a,
            raw,
            impls,
            is_leaf=lambda a: a is None,
        )
        model = nnx.merge(graphdef, _restate(state, leaves))
        out = predict(model, x)
        if y_stat is not None:
            out = out * jnp.float32(y_stat["scale"]) + jnp.float32(y_stat["shift"])
        return out

    (b,) = jax.export.symbolic_shape("b")
    spec = jax.ShapeDtypeStruct((b, *input_shape), jnp.int32 if tokens else jnp.float32)
    return infer, spec


def _restate(template, pure):
    from flax import nnx

    state = jax.tree.map(lambda v: v, template)
    nnx.replace_by_pure_dict(state, pure)
    return state


def export_stablehlo(
    trainer, dataset, output: str | os.PathLike, platforms=DEFAULT_PLATFORMS
) -> dict:
    """Serialize the trained inference function (see `inference_function`) to `output`; returns a
    description (also written next to it as `<output>.json`)."""
    config = trainer.config
    if config.inputs is not None or config.outputs is not None:
        raise NncompileError(
            "export of a model with several inputs or outputs is not supported yet",
            "use Program.predict, or `nncompile predict` (one file per output)",
        )
    platforms = check_platforms(platforms)
    out = check_output(output)
    try:
        from jax import export

        infer, spec = inference_function(trainer, dataset)
        exported = export.export(jax.jit(infer), platforms=tuple(platforms))(spec)
        blob = exported.serialize()
    except ExportError:
        raise
    except ImportError as e:
        raise ExportError(f"cannot serialize: {e}", "pip install flatbuffers") from None
    except Exception as e:
        raise ExportError(
            f"jax.export could not lower this model for {', '.join(platforms)}: "
            f"{type(e).__name__}: {str(e).splitlines()[0][:300]}",
            "try --platforms cpu",
        ) from None
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, bytes(blob))  # no temporary file is left behind, whatever happens
    info = {
        "format": "jax.export serialized (StableHLO)",
        "platforms": list(exported.platforms),
        "input": {"shape": ["b", *spec.shape[1:]], "dtype": str(np.dtype(spec.dtype))},
        "output": {
            "shape": ["b", *[int(d) for d in exported.out_avals[0].shape[1:]]],
            "dtype": str(exported.out_avals[0].dtype),
            "activation": config.output_activation,
        },
        "parameters": "baked in as constants",
        "calling_convention_version": exported.calling_convention_version,
        "spec": config.spec,
        "train": config.train,
        "load": "jax.export.deserialize(bytearray(open(path, 'rb').read())).call(x)",
    }
    labels = dataset.stats.get("labels") if dataset is not None else None
    if labels:
        info["labels"] = labels
    meta = out.with_name(out.name + ".json")
    atomic_write(meta, json.dumps(info, indent=2) + "\n")
    info["bytes"] = len(blob)
    return info


def check_platforms(platforms) -> tuple[str, ...]:
    """The platforms to lower for, each one jax.export knows (an unknown one never loads)."""
    names = tuple(dict.fromkeys(str(p).strip().lower() for p in platforms if str(p).strip()))
    unknown = [p for p in names if p not in PLATFORMS]
    if unknown or not names:
        raise ExportError(
            f"unknown platform {unknown[0]!r}" if unknown else "no platform given",
            f"the platforms are {', '.join(PLATFORMS)} (comma-separated: --platforms cpu,cuda)",
        )
    return names


def check_output(output: str | os.PathLike) -> Path:
    """The artifact's path: a file name, not an existing folder."""
    out = Path(output)
    if out.is_dir():
        raise ExportError(
            f"{out} is a folder; the export writes one file",
            f"name the file, e.g. -o {out / 'model.stablehlo'}",
        )
    return out
