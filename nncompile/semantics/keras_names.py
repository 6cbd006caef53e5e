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


# Keras' fit()/compile() arguments that are properties of another block here, or spelt otherwise
PROPERTIES = {
    "validation_split": "the split is the data block's: `split: {train: 0.8, val: 0.2}`",
    "validation_data": "the split is the data block's: `split: {train: 0.8, val: 0.2}`",
    "shuffle": "shuffling is the data block's: `shuffle: true`",
    "callbacks": "early stopping and checkpoints are train properties: `early_stopping: {...}`, "
    "`checkpoint: {...}`",
    "lr": "the learning rate is the optimizer's: `optimizer: adam(lr=1e-3)`",
    "learning_rate": "the learning rate is the optimizer's: `optimizer: adam(lr=1e-3)`",
}


def property_hint(key: str, kind: str, known: list[str]) -> str | None:
    """The hint for an unknown property named as Keras' fit/compile argument, else None."""
    hint = PROPERTIES.get(key)
    if hint is None or key in known or kind != "train":
        return None
    return hint


def argument_hint(key: str, fields: list[str]) -> str | None:
    """`did you mean 'lr'? (Keras' learning_rate)` for a Keras argument name, else None."""
    alias = ARGUMENTS.get(key)
    return f"did you mean '{alias}'? (Keras' {key})" if alias in fields else None


def layer_hint(name: str, known: list[str]) -> str | None:
    """The hint for an unknown layer named as Keras names it, else None."""
    found = LAYERS.get(re.sub(r"_", "", name.lower()))
    if found is None:
        return None
    if found in known:
        return f"did you mean '{found}'? (Keras' {name})"
    return found
