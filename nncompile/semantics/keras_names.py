"""Keras' names for what the language names otherwise: the hints of an unknown layer or argument
written as a Keras user would (`concatenate`, `TimeDistributed`, `learning_rate=`)."""

from __future__ import annotations

import re

# argument names of Keras with another name here
ARGUMENTS = {
    "learning_rate": "lr",
    "num_heads": "heads",
    "key_dim": "dim",
    "beta_1": "b1",
    "beta_2": "b2",
    "epsilon": "eps",
    "kernel_size": "kernel",
    "pool_size": "size",
    "kernel_initializer": "init",
    "kernel_regularizer": "regularize",
    "input_dim": "vocab",
    "output_dim": "dim",
    "negative_slope": "alpha",
    "bias_initializer": "bias_init",
    "recurrent_initializer": "recurrent_init",
    "embeddings_initializer": "init",
    "interpolation": "method",
    "rho": "decay",
}

# Keras arguments with no counterpart in the call: where the language says it instead
ARGUMENT_NOTES = {
    "from_logits": "a loss reads logits when the output layer has no activation; a softmax or "
    "sigmoid output is folded into the loss (`nncompile plan` shows it)",
    "clipnorm": "gradient clipping is a train property: `clip_norm: 1.0`",
    "global_clipnorm": "gradient clipping is a train property: `clip_norm: 1.0`",
    "weight_decay": "decoupled weight decay is adamw's: `adamw(lr=1e-3, weight_decay=1e-4)`",
    "dropout": "dropout is a layer of its own here: put `dropout(rate)` before this one",
    "recurrent_dropout": "no recurrent dropout yet: `dropout(rate)` before the layer drops its "
    "inputs",
    "sample_weight": "sample_weight is an argument of the npz and csv sources (the array or column "
    "of the weights); for other data, pass them to `program.fit(sample_weight=w)`",
}

# Keras layer names (lower case, without underscores) -> the language's layer, or a hint
LAYERS = {
    "concatenate": "concat",
    "repeatvector": "repeat",
    "upsampling1d": "upsample",
    "upsampling2d": "upsample",
    "globalaveragepooling1d": "global_avg_pool",
    "globalaveragepooling2d": "global_avg_pool",
    "globalmaxpooling1d": "global_max_pool",
    "globalmaxpooling2d": "global_max_pool",
    "maxpooling1d": "max_pool",
    "maxpooling2d": "max_pool",
    "averagepooling2d": "avg_pool",
    "batchnormalization": "batch_norm",
    "layernormalization": "layer_norm",
    "multiheadattention": "multi_head_attention",
    "simplernn": "simple_rnn",
    "spatialdropout1d": "spatial_dropout",
    "spatialdropout2d": "spatial_dropout",
    "rescaling": "rescale",
    "timedistributed": (
        "no TimeDistributed is needed: dense and the other per-feature layers apply to the last "
        "axis at every step; write the inner layer itself, e.g. dense(4)"
    ),
    "activation": "a bare activation is a statement of its own, e.g. `relu`",
    "input": "inputs are declared `input x: [shape]` at the top of the model",
}


# Keras' names of losses, metrics, initializers, activations and schedules -> the language's, with
# what differs (a Keras user reaches for the sparse loss: here one loss takes class ids directly)
ACCURACY = "one accuracy for class ids and binary outputs"
SYMBOLS = {
    "loss": {
        "sparse_categorical_crossentropy": (
            "categorical_crossentropy",
            "it takes integer class ids directly, as Keras' sparse form does",
        ),
        "mean_squared_error": ("mse", ""),
        "mean_absolute_error": ("mae", ""),
        "huber_loss": ("huber", ""),
    },
    "metric": {
        "sparse_categorical_accuracy": ("accuracy", ACCURACY),
        "categorical_accuracy": ("accuracy", ACCURACY),
        "binary_accuracy": ("accuracy", ACCURACY),
        "sparse_top_k_categorical_accuracy": ("top_k", ""),
        "top_k_categorical_accuracy": ("top_k", ""),
        "mean_absolute_error": ("mae", ""),
        "mean_squared_error": ("mse", ""),
        "root_mean_squared_error": ("rmse", ""),
        "f1_score": ("f1", ""),
    },
    "initializer": {
        "random_normal": ("normal", ""),
        "random_uniform": ("uniform", ""),
    },
    "activation": {"silu": ("swish", "")},
    "schedule": {
        "cosine_decay": ("cosine", ""),
        "exponential_decay": ("exponential", ""),
    },
}

# Keras' fit()/compile() arguments that are properties of another block here, or spelt otherwise
PROPERTIES = {
    "validation_split": "the split is the data block's: `split: {train: 0.8, val: 0.2}`",
    "validation_data": "the split is the data block's: `split: {train: 0.8, val: 0.2}`",
    "shuffle": "shuffling is the data block's: `shuffle: true`",
    "callbacks": "early stopping and checkpoints are train properties: `early_stopping: {...}`, "
    "`checkpoint: {...}`",
    "lr": "the learning rate is the optimizer's: `optimizer: adam(lr=1e-3)`",
    "learning_rate": "the learning rate is the optimizer's: `optimizer: adam(lr=1e-3)`",
    "sample_weight": 'per-example weights come with the data: `source: npz("d.npz", '
    'sample_weight="w")` (or csv\'s) names their array or column; from Python, '
    "`program.fit(sample_weight=w)`",
}


def property_hint(key: str, kind: str, known: list[str]) -> str | None:
    """The hint for an unknown property named as Keras' fit/compile argument, else None."""
    hint = PROPERTIES.get(key)
    if hint is None or key in known or kind != "train":
        return None
    return hint


def argument_hint(key: str, fields: list[str]) -> str | None:
    """`did you mean 'lr'? (Keras' learning_rate)` for a Keras argument name, what to write
    instead for a Keras argument that is said elsewhere (`clipnorm`), else None."""
    alias = ARGUMENTS.get(key)
    if alias in fields:
        return f"did you mean '{alias}'? (Keras' {key})"
    return ARGUMENT_NOTES.get(key)


def layer_hint(name: str, known: list[str]) -> str | None:
    """The hint for an unknown layer named as Keras names it, else None."""
    found = LAYERS.get(re.sub(r"_", "", name.lower()))
    if found is None:
        return None
    if found in known:
        return f"did you mean '{found}'? (Keras' {name})"
    return found


def symbol_hint(kind: str, name: str, known: list[str]) -> str | None:
    """`did you mean 'mse'? (Keras' mean_squared_error)` for a Keras name of a registry entry (a
    loss, metric, ...), else None."""
    found = SYMBOLS.get(kind, {}).get(name.lower())
    if found is None or found[0] not in known:
        return None
    alias, note = found
    return f"did you mean '{alias}'? (Keras' {name}{': ' + note if note else ''})"


# Python's literals, as a Keras user writes them in arguments
LITERALS = {"True": "true", "False": "false", "None": "none"}


def literal_hint(name: str) -> str | None:
    """`write true` for Python's `True` (and False, None), else None."""
    lower = LITERALS.get(name)
    return None if lower is None else f"write {lower}: the language's literals are lower case"
