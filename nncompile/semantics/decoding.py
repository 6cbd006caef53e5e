"""`decode: {input: shifted, start: 0}`: the checks that make greedy decoding well defined. The
decoder's input must be a model input of token ids [steps], and the output that predicts the
next token a distribution over the same ids at each of those steps, [steps, tokens]."""

from __future__ import annotations

from .. import diagnostics as D
from ..diagnostics import Collector
from ..registry.losses import LOSSES
from ..shapes import fmt
from . import ir


def check_decode(train: ir.Train, out: Collector, where) -> None:
    decode, model = train.props.decode, train.model
    if decode is None:
        return
    if model is None:
        out.error(D.BAD_VALUE, "decode needs `model:`", where("decode"))
        return
    inputs = {t.name: t for t in model.inputs}
    feed = inputs.get(decode.input)
    if feed is None:
        out.error(
            D.UNKNOWN_REFERENCE,
            f"decode reads input '{decode.input}', but model {model.name} has no such input",
            where("decode.input"),
            D.did_you_mean(decode.input, inputs)
            or f"its inputs are {', '.join(inputs)}: name the one the decoder reads",
        )
        return
    if feed.dtype != "int32" or len(feed.shape) != 1:
        out.error(
            D.SHAPE,
            f"decode feeds tokens back into '{feed.name}', but it is "
            f"{'int' if feed.dtype == 'int32' else ''}{fmt(feed.shape)}",
            where("decode.input"),
            f"the decoder's input must be token ids: `input {feed.name}: int[steps]`",
        )
        return
    outputs = {t.name: t for t in model.outputs}
    name = decode.output or (model.outputs[0].name if len(model.outputs) == 1 else None)
    if name is None or name not in outputs:
        given = decode.output is not None
        out.error(
            D.UNKNOWN_REFERENCE,
            f"decode reads output '{decode.output}', but model {model.name} has no such output"
            if given
            else f"model {model.name} has several outputs: decode needs to know which one "
            "predicts the next token",
            where("decode.output" if given else "decode"),
            f"add `output: <name>` to decode; the outputs are {', '.join(outputs)}",
        )
        return
    shape, steps = outputs[name].shape, feed.shape[0]
    if len(shape) != 2 or shape[0] != steps:
        out.error(
            D.SHAPE,
            f"decode reads the next token from '{name}' {fmt(shape)}, but it must give a "
            f"distribution over tokens at each of the {steps} steps of '{feed.name}': "
            f"[{steps}, tokens]",
            where("decode"),
            "end the decoder with return_sequences=true and a per-step dense(tokens, "
            "activation=softmax)",
        )
        return
    if decode.start >= shape[1]:
        out.error(
            D.BAD_VALUE,
            f"decode starts from token {decode.start}, but '{name}' predicts tokens "
            f"0..{shape[1] - 1}",
            where("decode.start"),
            "the start token must be one of the model's token ids",
        )
        return
    losses = train.output_losses()
    loss = losses.get(name)
    if loss is not None and LOSSES[loss.name].task != "classification":
        out.error(
            D.LOSS_OUTPUT,
            f"decode picks the most likely token, but '{name}' is trained with {loss.name}",
            where("decode"),
            "train the decoder's output as a classifier: loss: categorical_crossentropy",
        )
