"""Plan -> Python source of a supervised training program (adversarial ones: codegen/gan.py).

Every decision is the plan's (nncompile.plan); this module only writes text, in the order a Flax
user reads a training script: model, optimizer, loss, step, prediction, then the run configuration
and the backend tuning that are not part of the model."""

from __future__ import annotations

from pathlib import Path

from ..errors import NncompileError
from ..expr import layout, render
from ..plan import Plan, conv_lowering, plan_for
from ..semantics import ir
from ..semantics.ir import select_train
from ..semantics.layerloss import layer_losses
from ..version import __version__
from . import config as CF
from . import multi as MIO
from . import training as TR
from .decoding import write_decode
from .layers import conv_tuning
from .lower import lower_model
from .text import Writer, backend_section, config_section, header, main_block, model_section


def emit_program(
    program: ir.Program,
    train_name: str | None = None,
    *,
    standalone: bool = False,
    sample_weight: bool = False,
) -> str:
    """The training program of one train block as Python source. `standalone`: the model.py of an
    ejected folder (`nncompile eject`): the header says train.py trains it, and there is no
    `if __name__ == "__main__"` block (it would import nncompile's runtime). `sample_weight`: a
    loss_fn that weighs each example even when the data names no weights (fit(sample_weight=))."""
    if sample_weight:
        token = TR.WEIGH_SAMPLES.set(True)
        try:
            return emit_program(program, train_name, standalone=standalone)
        finally:
            TR.WEIGH_SAMPLES.reset(token)
    train = select_train(program, train_name)
    plan = plan_for(program, train_name)
    if plan.kind == "gan":
        if standalone:
            raise NncompileError(
                f"cannot eject `train {train.name}`: adversarial (GAN) programs are not supported"
                " yet",
                "train it with `nncompile train`",
            )
        from .gan import emit_gan

        return emit_gan(program, train, plan)
    return emit_supervised(program, train, plan, standalone)


QUOTES = '"""'  # a docstring's end
FREEZE_BATCH_NORM = '''def freeze_batch_norm(model, frozen: bool = True):
    """The BatchNorm layers inside the FROZEN layers run in inference mode while frozen: they
    normalise with their running statistics and leave them unchanged (Keras' transfer learning).
    The runtime calls it with frozen=False when it unfreezes them (`unfreeze_after`)."""
    for name in FROZEN:
        for _, module in nnx.iter_graph(getattr(model, name)):
            if isinstance(module, nnx.BatchNorm):
                module.use_running_average = frozen'''


def emit_supervised(
    program: ir.Program, train: ir.Train, plan: Plan, standalone: bool = False
) -> str:
    assert train.model is not None
    spec_name = Path(program.source.path).name
    bf16 = plan.precision.value == "bfloat16"
    several = train.several
    heads = plan.heads.value if plan.heads is not None else None
    fold = heads if heads is not None else plan.fold
    models = lower_model(train.model, program.source.path, fold, plan.precision.value)
    loss, loss_snippets = TR.loss_expr(train)
    if several:
        loss_snippets = tuple(MIO.loss_terms(train)[1])
    penalties = TR.penalty_terms(train)
    augments = TR.augment_calls(train)
    line = lambda key: (
        f"{spec_name}:{train.property_spans[key].line}" if key in train.property_spans else None
    )

    w = Writer()
    header(
        w,
        f"Training program for `train {train.name}` of {spec_name}: model {train.model.name} "
        f"on {'the arrays given to fit()' if train.data.given else f'data {train.data.name}'}.",
        spec_name,
        standalone,
    )
    if bf16:
        w("COMPUTE_DTYPE = jnp.bfloat16  # precision: bfloat16 (parameters stay float32)")
    models.snippets |= (
        set(loss_snippets) | set(TR.penalty_snippets(train)) | set(TR.augment_snippets(train))
    )
    model_section(w, [models])
    w()
    w()
    w("def make_model(seed: int = 0):")
    if plan.frozen:
        w(f"    model = tune_for_backend({models.top}(rngs=nnx.Rngs(seed)))")
        w("    freeze_batch_norm(model)")
        w("    return model")
        w()
        w()
        until = f" for the first {plan.unfreeze_after} epochs" if plan.unfreeze_after else ""
        w(f"# the layers of `freeze:`: no updates and no optimizer state{until}")
        w(f"FROZEN = {render(tuple(plan.frozen))}", line("freeze"))
        w()
        w()
        w("def freeze_labels(params):")
        w('    """\'frozen\' for the parameters of the FROZEN layers, \'train\' for the others."""')
        w("    return jax.tree_util.tree_map_with_path(")
        w('        lambda path, _: "frozen" if path[0].key in FROZEN else "train", params')
        w("    )")
        w()
        w()
        w.block(FREEZE_BATCH_NORM)
    else:
        w(f"    return tune_for_backend({models.top}(rngs=nnx.Rngs(seed)))")
    w()
    w()
    frozen_arg = ", frozen: bool = True" if plan.frozen else ""
    w(f"def make_optimizer(steps_per_epoch: int, epochs: int{frozen_arg}):")
    phase_rate = TR.phase_rate(train) if plan.frozen else None
    for target, expr in TR.optimizer_lines(train, inject=True):
        key = "schedule" if target == "learning_rate" else "optimizer"
        w.assign(4, target, expr, line(key) if key in train.property_spans else None)
        if target == "learning_rate" and phase_rate is not None:
            w("    if not frozen:  # unfreeze_after's fine-tuning rate, for every layer")
            w.assign(8, "learning_rate", phase_rate, line("unfreeze_after"))
    if plan.frozen:
        w(
            "    # frozen=False (the runtime's call after unfreeze_after) trains every layer, "
            "with a fresh state"
        )
        w("    stay = optax.set_to_zero() if frozen else tx")
        w('    tx = optax.multi_transform({"train": tx, "frozen": stay}, freeze_labels)')
    w("    return tx")
    w()
    w()
    if several:
        MIO.write_output_losses(w, train, line)
    weights = TR.class_weight_table(train)
    if weights is not None:
        write_class_weight(w, weights, line("class_weight"))
    samples = TR.sample_weighted(train)
    params = ", class_weight=None" * (weights is not None) + ", sample_weight=None" * samples
    w(f"def loss_fn(model, x, y{params}):")
    what = "logits" if fold else "outputs"
    if several:
        w('    """The outputs\' weighted losses (+ penalties); returns (loss, model outputs)."""')
        MIO.write_loss_fn(w, train, bf16, line)
    else:
        end = "" if weights or samples else QUOTES
        w(
            f'    """Mean {train.loss.name} over the batch (+ penalties); '
            f"returns (loss, model {what}).{end}"
        )
        if weights:
            end = "" if samples else QUOTES
            w(f"    class_weight: each example's loss times its class's weight.{end}")
        if samples:
            w(f"    sample_weight: each example's loss times its own weight.{QUOTES}")
        w(
            "    outputs = model(x).astype(jnp.float32)  # loss and metrics in float32"
            if bf16
            else "    outputs = model(x)"
        )
        w.assign(4, "loss", loss, line("loss"))
    for term in penalties:
        w.assign(4, "loss", term, line("regularize"), op="+=")
    for term, number in TR.layer_penalty_terms(train):
        w.assign(4, "loss", term, f"{spec_name}:{number}", op="+=")
    for added, number in TR.layer_loss_terms(train):  # gaussian_sample's KL divergence
        w.assign(4, "loss", added, f"{spec_name}:{number}", op="+=")
    w("    return loss, outputs")
    w()
    w()
    write_layer_losses(w, train)
    w("def augment(key, x):")
    w('    """Random transformations of a training batch (never applied in evaluation)."""')
    if augments:
        w(f"    keys = jax.random.split(key, {len(augments)})")
        for (_, expr), ref in zip(augments, train.data.props.augment, strict=True):
            w.assign(4, "x", expr, f"{spec_name}:{ref.span.line}")
    w("    return x")
    w()
    w()
    w(f"def train_step(model, optimizer, x, y, key{', sample_weight=None' * samples}):")
    w('    """One gradient step on a batch; returns the loss and the model outputs."""')
    w("    x = augment(key, x)")
    args = "model, x, y, CLASS_WEIGHT" if weights else "model, x, y"
    args += ", sample_weight=sample_weight" if samples else ""
    grads = f"nnx.value_and_grad(loss_fn, has_aux=True)({args})"
    if len(grads) > 71:  # (sample weights: the line within 100 characters)
        w("    grad_fn = nnx.value_and_grad(loss_fn, has_aux=True)")
        grads = f"grad_fn({args})"
    w(f"    (loss, outputs), grads = {grads}")
    w("    optimizer.update(model, grads)")
    w("    return loss, outputs")
    w()
    w()
    if samples:  # the data's weights of the split evaluated (runtime.sampleweight)
        w("def eval_step(model, x, y, sample_weight=None):")
        w("    return loss_fn(model, x, y, sample_weight=sample_weight)")
    else:
        w("def eval_step(model, x, y):")
        w("    return loss_fn(model, x, y)")
    w()
    w()
    w("def predict(model, x):")
    if several:
        MIO.write_predict(w, train.model, fold, bf16)
    else:
        out = "model(x).astype(jnp.float32)" if bf16 else "model(x)"
        final = {"softmax": f"jax.nn.softmax({out}, axis=-1)", "sigmoid": f"jax.nn.sigmoid({out})"}
        w(f"    return {final.get(plan.fold, out) if plan.fold else out}")
    if train.props.decode is not None:
        write_decode(w, train, line("decode"))
    config = CF.config(
        train,
        spec_name,
        plan.fold,
        plan.strategy.value,
        activation_floats=plan.activation_floats.value,
        cpu_compiler_options=plan.compiler_options.value,
        precision=plan.precision.value,
        heads=heads,
        cpu_cores=plan.cores.value,
    )
    config_section(w, config)
    backend_section(w, [models], conv_tuning(plan.conv_lowering.value))
    if not standalone:
        main_block(w, "data, loop, metrics, run folder")
    return w.text()


def write_class_weight(w: Writer, weights: tuple[float, ...] | str, where: str | None) -> None:
    """CLASS_WEIGHT: what train_step passes to loss_fn (eval_step passes nothing: unweighted)."""
    if isinstance(weights, str):
        w("# class_weight: balanced: n / (classes * count) over the training split's classes; the")
        w("# runtime sets it before training (runtime.classweight)")
    else:
        w("# class_weight: the training loss's weight of each class (evaluation is unweighted)")
    w.assign(0, "CLASS_WEIGHT", weights, where)
    w()
    w()


def write_layer_losses(w: Writer, train: ir.Train) -> None:
    """`layer_losses(model)`: the terms layers add to the loss, unweighted, by history key, as the
    last forward pass left them (the runtime records them: `kl_loss`, `val_kl_loss`)."""
    losses = layer_losses(train.model)
    if not losses:
        return
    w("def layer_losses(model):")
    w('    """The terms layers add to the loss (unweighted) after a forward pass, by key."""')
    terms = {loss.key: loss.term.value for loss in losses}
    w("    return " + layout(terms, 4, 100, len("    return ")))
    w()
    w()


def emit_model(model: ir.Model, spec_path: str) -> str:
    """Only the model classes of one model (no training code): for tests and embedding."""
    plan = lower_model(model, spec_path, None)
    w = Writer()
    w(f'"""Model {model.name}, generated by nncompile {__version__}."""')
    w("import jax")
    w("import jax.numpy as jnp")
    w("from flax import nnx")
    w()
    w("KERNEL_INIT = nnx.initializers.glorot_uniform()")
    model_section(w, [plan])
    backend_section(w, [plan], conv_tuning(conv_lowering([model]).value))
    w()
    w()
    w("def Model(rngs):  # noqa: N802 - the model class, tuned for the backend")
    w(f"    return tune_for_backend({plan.top}(rngs=rngs))")
    return w.text()
