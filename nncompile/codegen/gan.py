"""Emission of adversarial training (`objective: gan(...)`): two models, two optimizers, one
step."""

from __future__ import annotations

from pathlib import Path

from ..expr import Sym, call, render
from ..plan import Plan
from ..registry.losses import LOSSES
from ..registry.training import NOISES, Gan
from ..semantics import ir
from . import config as CF
from . import training as TR
from .layers import conv_tuning
from .lower import lower_model
from .text import Writer, backend_section, config_section, header, main_block, model_section


def emit_gan(program: ir.Program, train: ir.Train, plan: Plan) -> str:
    props = train.props
    g_model, d_model = train.generator, train.discriminator
    assert g_model is not None and d_model is not None and plan.discriminator_head is not None
    spec_name = Path(program.source.path).name
    assert props.objective is not None and isinstance(props.objective.params, Gan)
    noise = props.objective.params.noise
    loss = train.loss.name
    g_plan = lower_model(g_model, program.source.path, None)
    d_plan = lower_model(d_model, program.source.path, plan.discriminator_head.value)
    gan = props.objective.params
    d_loss, g_loss = (render(e) for e in LOSSES[loss].gan or ())  # on the discriminator's logits
    smoothed = LOSSES[loss].gan_smoothed
    d_smoothed = None
    if gan.label_smoothing and smoothed is not None:
        d_smoothed = call("jnp.mean", smoothed(round(1.0 - gan.label_smoothing, 12)))
    cond = gan.condition is not None
    y, ys = (", y", ", y") if cond else ("", "")
    g_args, d_args = (", g_condition(y)", ", d_condition(y)") if cond else ("", "")
    sigma = gan.instance_noise
    config = CF.gan_config(train, spec_name, plan.compiler_options.value)
    w = Writer()
    header(
        w,
        f"Adversarial training program for `train {train.name}` of {spec_name}: "
        f"{g_model.name} against {d_model.name} on data {train.data.name}.",
        spec_name,
    )
    model_section(w, [g_plan, d_plan])
    w()
    w()
    w("def make_models(seed: int = 0):")
    w(f"    generator = tune_for_backend({g_plan.top}(rngs=nnx.Rngs(seed)))")
    w(f"    discriminator = tune_for_backend({d_plan.top}(rngs=nnx.Rngs(seed + 1)))")
    w("    return generator, discriminator")
    w()
    w()
    w("def make_optimizers(steps_per_epoch: int, epochs: int):")
    w('    """(generator optimizer, discriminator optimizer)."""')
    for which, var in (("generator_optimizer", "g_tx"), ("discriminator_optimizer", "d_tx")):
        for target, expr in TR.optimizer_lines(train, which):
            w.assign(4, target, expr)
        w(f"    {var} = tx")
    w("    return g_tx, d_tx")
    w()
    w()
    w("def sample_noise(key, n):")
    w(f"    return {render(NOISES[noise.name].lower(noise.params, Sym('key'), Sym('n')))}")
    w()
    w()
    if cond:
        for name, model in (("g_condition", g_model), ("d_condition", d_model)):
            label = model.inputs[1]
            w()
            w()
            w(f"def {name}(y):")
            if label.dtype == "int32":
                w(f'    """Class ids [n] as {model.name}\'s input {label.name}: int[1]."""')
                w("    return y[:, None]")
            else:
                w(f'    """Class ids [n] as {model.name}\'s input {label.name}: one-hot."""')
                w(f"    return jax.nn.one_hot(y, {label.shape[0]!r})")
    w()
    w()
    key = ", key" if sigma else ""
    w(f"def discriminator_loss(discriminator, generator, x{ys}, z{key}):")
    smooth = f", real target {1.0 - gan.label_smoothing:g}" if gan.label_smoothing else ""
    w(f'    """{loss}{smooth}: real examples should score high, generated ones low."""')
    if sigma:
        w(f"    # instance noise: N(0, {sigma!r}^2) added to what the discriminator sees")
        w("    kr, kf = jax.random.split(key)")
        w(f"    x = x + {sigma!r} * jax.random.normal(kr, x.shape)")
        w(f"    fake = jax.lax.stop_gradient(generator(z{g_args}))")
        w(f"    fake = fake + {sigma!r} * jax.random.normal(kf, fake.shape)")
        w(f"    real = discriminator(x{d_args})")
        w(f"    fake = discriminator(fake{d_args})")
    else:
        w(f"    real = discriminator(x{d_args})")
        w(f"    fake = discriminator(jax.lax.stop_gradient(generator(z{g_args})){d_args})")
    if d_smoothed is not None:
        w.assign(4, "loss", d_smoothed)
        w("    return loss")
    else:
        w(f"    return jnp.mean({d_loss})")
    w()
    w()
    w(f"def generator_loss(generator, discriminator, z{ys}):")
    w(f'    """{loss}: generated examples should fool the discriminator."""')
    w(f"    fake = discriminator(generator(z{g_args}){d_args})")
    w(f"    return jnp.mean({g_loss})")
    w()
    w()
    w(f"def train_step(generator, discriminator, g_optimizer, d_optimizer, x{y}, key):")
    w('    """One discriminator step, then one generator step; returns (d_loss, g_loss)."""')
    w("    kd, kg = jax.random.split(key)")
    w("    z = sample_noise(kd, x.shape[0])")
    args = f"discriminator, generator, x{ys}, z" + (", jax.random.fold_in(kd, 1)" if sigma else "")
    w(f"    d_loss, d_grads = nnx.value_and_grad(discriminator_loss)({args})")
    w("    d_optimizer.update(discriminator, d_grads)")
    w("    z = sample_noise(kg, x.shape[0])")
    w(f"    g_loss, g_grads = nnx.value_and_grad(generator_loss)(generator, discriminator, z{ys})")
    w("    g_optimizer.update(generator, g_grads)")
    w("    return d_loss, g_loss")
    w()
    w()
    if cond:
        w("def generate(generator, key, n, y):")
        w('    """n examples of the classes y (class ids [n])."""')
        w("    return generator(sample_noise(key, n), g_condition(y))")
    else:
        w("def generate(generator, key, n):")
        w("    return generator(sample_noise(key, n))")
    config_section(w, config)
    backend_section(w, [g_plan, d_plan], conv_tuning(plan.conv_lowering.value))
    main_block(w, "data, loop, sample grids, run folder")
    return w.text()
