"""`decode` of a program whose train block has `decode: {input: ..., start: ...}`: greedy
decoding of a sequence model trained with teacher forcing (an encoder-decoder).

The decoder's input starts as the start token; step t feeds back the most likely token the model
predicts at step t - 1. The model runs once per step on the whole (partly decoded) input, a loop
of fixed length under `nnx.fori_loop`: exact for a decoder that reads its input left to right
(a recurrent or causal decoder), and the model's own code, unchanged, is all it needs."""

from __future__ import annotations

from ..expr import Expr, Sym, call, t
from ..semantics import ir


def decoder_call(model: ir.Model, feed: str, output: str) -> Expr:
    """The model called on ``x`` with its input ``feed`` replaced by ``tokens``; the output
    ``output`` of a model with several."""
    several = len(model.inputs) > 1
    args = [
        Sym("tokens") if i.name == feed else t("x[{k}]", k=i.name) if several else Sym("x")
        for i in model.inputs
    ]
    out = call("model", *args)
    if len(model.outputs) == 1:
        return out
    index = [o.name for o in model.outputs].index(output)
    return t("{o}[{i}]", o=out, i=index)


def write_decode(w, train: ir.Train, spec_line: str | None) -> None:
    decode, model = train.props.decode, train.model
    assert decode is not None and model is not None
    output = decode.output or model.outputs[0].name
    feed = next(i for i in model.inputs if i.name == decode.input)
    steps = feed.shape[0]
    given = t("x[{k}]", k=feed.name) if len(model.inputs) > 1 else Sym("x")
    w()
    w()
    w("def decode(model, x):")
    w(f'    """Greedy decoding of `{feed.name}` ({spec_line or "decode"}): it starts as the start')
    w(f"    token {decode.start}; step t feeds back the most likely token of step t - 1 (the")
    w(f"    values x gives for `{feed.name}` are not read, only its shape). The model runs once")
    w("    per step, exact for a decoder that reads its input left to right. Returns the token")
    w(f'    ids of the {steps} steps."""')
    w.assign(4, "tokens", call("jnp.full", t("{g}.shape", g=given), decode.start, Sym("jnp.int32")))
    w()
    w("    def step(i, carry):")
    w("        model, tokens = carry")
    w.assign(8, "outputs", decoder_call(model, feed.name, output))
    w("        best = jnp.argmax(outputs[:, i], axis=-1).astype(jnp.int32)")
    w("        return model, tokens.at[:, i + 1].set(best)")
    w()
    w(f"    model, tokens = nnx.fori_loop(0, {steps - 1}, step, (model, tokens))")
    w.assign(4, "outputs", decoder_call(model, feed.name, output))
    w("    return jnp.argmax(outputs, axis=-1).astype(jnp.int32)")
