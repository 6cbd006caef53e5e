"""Per-model tables (statement line, layer, output shape, parameters), like Keras' summary."""

from __future__ import annotations

from .semantics import ir
from .shapes import fmt


def _rows(model: ir.Model, prefix: str = "") -> list[tuple[str, str, str, str, int]]:
    rows = (
        [
            (
                "",
                f"{prefix}{t.name}",
                "input" + (" (int)" if t.dtype == "int32" else ""),
                fmt(t.shape),
                0,
            )
            for t in model.inputs
        ]
        if not prefix
        else []
    )
    for node in model.nodes:
        kind = node.kind
        if node.kind == "activation":
            kind = str(node.params)
        elif node.submodel is not None:
            kind = f"model {node.submodel.name}"
        line = str(node.span.line)
        rows.append((line, f"{prefix}{node.name}", kind, fmt(node.shape), node.param_count))
        # the layer's states (`seq, h, c = lstm(..., return_state=true)`): a row each, no params
        rows.extend((line, f"{prefix}{t.name}", "state", fmt(t.shape), 0) for t in node.extra)
        if node.submodel is not None:
            rows.extend(_rows(node.submodel, prefix=f"{prefix}{node.name}."))
    return rows


def model_table(model: ir.Model) -> str:
    header = ("line", "layer", "kind", "output shape", "params")
    rows = [
        (line, name, kind, shape, "" if kind.startswith(("input", "state")) else f"{count:,}")
        for line, name, kind, shape, count in _rows(model)
    ]
    top_rows = [r for r in _rows(model) if "." not in r[1]]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(5)]
    line = lambda r: "  ".join(
        str(c).rjust(w) if i in (0, 4) else str(c).ljust(w)
        for i, (c, w) in enumerate(zip(r, widths, strict=True))
    ).rstrip()
    rule = "-" * len(line(header))
    total = sum(r[4] for r in top_rows)
    out = [
        f"model {model.name}",
        rule,
        line(header),
        rule,
        *(line(r) for r in rows),
        rule,
        f"total parameters: {total:,}",
    ]
    if len(model.outputs) > 1 or (
        model.outputs and model.nodes and model.outputs[0].name != model.nodes[-1].output
    ):
        out.append("outputs: " + ", ".join(f"{t.name} {fmt(t.shape)}" for t in model.outputs))
    return "\n".join(out)


def train_lines(train: ir.Train) -> str:
    p, d = train.props, train.data
    shape = fmt(d.info.feature_shape) if d.info.feature_shape else "(known when loaded)"
    classes = f", {d.info.num_classes} classes" if d.info.num_classes else ""
    g, dis = train.generator, train.discriminator
    what = f"model {p.model}" if p.model or not (g and dis) else f"gan {g.name} vs {dis.name}"
    on = "the arrays given to fit()" if d.given else f"data {d.name} (examples {shape}{classes})"
    lines = [
        f"train {train.name}: {what} on {on}",
        f"  loss {_loss(p)}, optimizer {p.optimizer or 'adam'}"
        + (f", schedule {', '.join(map(str, p.schedule))}" if p.schedule else ""),
        f"  batch_size {p.batch_size}, epochs {p.epochs}, seed {p.seed}",
    ]
    if p.regularize:
        lines.append("  regularize " + ", ".join(map(str, p.regularize)))
    if p.metrics:
        lines.append(
            "  metrics " + ", ".join(f"{o}: {m}" if o else str(m) for o, m in train.metric_refs())
        )
    if p.weighted_metrics:
        lines.append("  weighted_metrics " + ", ".join(map(str, p.weighted_metrics)))
    if p.early_stopping:
        e = p.early_stopping
        lines.append(f"  early stopping on {e.monitor}, patience {e.patience}")
    return "\n".join(lines)


def summary(program: ir.Program) -> str:
    parts = [model_table(m) for m in program.models.values()]
    parts += [train_lines(t) for t in program.trains.values()]
    return "\n\n".join(parts) + "\n"


def summary_json(program: ir.Program) -> dict:
    return {
        "models": {
            name: {
                "inputs": [
                    {"name": t.name, "shape": list(t.shape), "dtype": t.dtype} for t in m.inputs
                ],
                "layers": [
                    {
                        "line": int(r[0]) if r[0] else None,
                        "name": r[1],
                        "kind": r[2],
                        "shape": r[3],
                        "params": r[4],
                    }
                    for r in _rows(m)
                ],
                "params": m.param_count,
            }
            for name, m in program.models.items()
        },
        "trains": {
            name: {"model": t.props.model, "data": t.data.name}
            for name, t in program.trains.items()
        },
    }


def _loss(p) -> str:
    """`mse`, or per output `{digit: categorical_crossentropy, big: 0.2 x binary_crossentropy}`."""
    if not isinstance(p.loss, dict):
        return str(p.loss)
    weights = p.loss_weights or {}
    parts = [
        f"{k}: {'' if weights.get(k, 1.0) == 1.0 else f'{weights[k]:g} x '}{v}"
        for k, v in p.loss.items()
    ]
    return "{" + ", ".join(parts) + "}"
