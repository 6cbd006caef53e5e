"""The parts of a supervised program that differ for a model with several inputs or outputs.

With several inputs, `x` is a dict keyed by input name and the model is called with one argument
per input, in the model's order; with several outputs, `y` is a dict keyed by output name, the
model's tuple of outputs becomes the dict `outputs`, the loss is the weighted sum of each output's
loss (`loss: {out: ...}`, `loss_weights: {out: w}`), and `predict` returns a dict with each
output's folded activation applied. A model with one input and one output never comes here."""

from __future__ import annotations

from ..expr import Expr, Snippet, Sym, call, layout, render, t
from ..semantics import ir
from . import training as TR

SOFTMAX = "jax.nn.softmax({o}, axis=-1)"
SIGMOID = "jax.nn.sigmoid({o})"


def model_call(model: ir.Model) -> Expr:
    """`model(x)`, or `model(x["a"], x["b"])` for several inputs."""
    if len(model.inputs) == 1:
        return call("model", Sym("x"))
    return call("model", *(t("x[{k}]", k=i.name) for i in model.inputs))


def outputs_expr(model: ir.Model) -> Expr:
    """The model's outputs: its output, or a dict of its outputs by name."""
    names = tuple(o.name for o in model.outputs)
    if len(names) == 1:
        return model_call(model)
    return call("dict", call("zip", names, model_call(model)))


def _at(var: str, name: str, several: bool) -> Sym | Expr:
    return t(var + "[{k}]", k=name) if several else Sym(var)


def loss_terms(train: ir.Train) -> tuple[list[Expr], set[Snippet]]:
    """The weighted loss of each output, in the model's order (the first assigns `loss`)."""
    model = train.model
    assert model is not None
    several = len(model.outputs) > 1
    terms: list[Expr] = []
    snippets: set[Snippet] = set()
    for name, loss in train.output_losses().items():
        expr, needs = TR.loss_expr(
            train, loss, _at("outputs", name, several), _at("y", name, several)
        )
        snippets |= set(needs)
        weight = train.loss_weight(name)
        terms.append(expr if weight == 1.0 else t("{w} * ({e})", w=weight, e=expr))
    return terms, snippets


def predict_expr(model: ir.Model, fold) -> Expr | dict:
    """What `predict` returns: each output with its folded activation applied."""
    if len(model.outputs) == 1:
        template = {"softmax": SOFTMAX, "sigmoid": SIGMOID}.get(fold or "")
        out = model_call(model)
        return t(template, o=out) if template else out
    heads = fold if isinstance(fold, dict) else {}
    return {
        o.name: predict_expr_on(_at("outputs", o.name, True), heads.get(o.name))
        for o in model.outputs
    }


def write_loss_fn(w, train: ir.Train, bf16: bool, line) -> None:
    """The body of `loss_fn` for a model with several inputs or outputs."""
    model = train.model
    assert model is not None
    w.assign(4, "outputs", outputs_expr(model))
    if bf16:
        w("    outputs = jax.tree.map(lambda o: o.astype(jnp.float32), outputs)  # float32 loss")
    if len(model.outputs) > 1:
        extra = ", sample_weight" if TR.sample_weighted(train) else ""
        w(f"    losses = output_losses(outputs, y{extra})")
        weighted = [
            t("{w} * {l}", w=train.loss_weight(n), l=_at("losses", n, True))
            if train.loss_weight(n) != 1.0
            else _at("losses", n, True)
            for n in train.output_losses()
        ]
        total = t(
            " + ".join(f"{{p{i}}}" for i in range(len(weighted))),
            **{f"p{i}": p for i, p in enumerate(weighted)},
        )
        w.assign(4, "loss", total, line("loss_weights") or line("loss"))
        return
    terms, _ = loss_terms(train)
    for i, term in enumerate(terms):
        w.assign(4, "loss", term, line("loss"), op="+=" if i else "=")


def write_output_losses(w, train: ir.Train, line) -> None:
    """`output_losses(outputs, y)`: each output's mean loss before `loss_weights` (the runtime
    records them as `<output>_loss`)."""
    model = train.model
    assert model is not None
    if len(model.outputs) < 2:
        return
    weighted = ", sample_weight=None" if TR.sample_weighted(train) else ""
    w(f"def output_losses(outputs, y{weighted}):")
    w('    """Each output\'s mean loss over the batch, before `loss_weights`."""')
    w("    losses = {}")
    for name, loss in train.output_losses().items():
        at = lambda var: _at(var, name, True)  # noqa: B023 - used at once
        expr = TR.loss_expr(train, loss, at("outputs"), at("y"))[0]
        w.assign(4, render(at("losses")), expr, line("loss"))
    w("    return losses")
    w()
    w()


def write_predict(w, model: ir.Model, fold, bf16: bool) -> None:
    if len(model.outputs) > 1:
        w.assign(4, "outputs", outputs_expr(model))
        if bf16:
            w("    outputs = jax.tree.map(lambda o: o.astype(jnp.float32), outputs)")
    elif bf16:
        w.assign(4, "outputs", t("{m}.astype(jnp.float32)", m=model_call(model)))
        w(f"    return {render(predict_expr_on(Sym('outputs'), fold))}")
        return
    w("    return " + layout(predict_expr(model, fold), 4, 100, len("    return ")))


def predict_expr_on(value: Sym | Expr, fold) -> Expr | Sym:
    template = {"softmax": SOFTMAX, "sigmoid": SIGMOID}.get(fold or "")
    return t(template, o=value) if template else value
