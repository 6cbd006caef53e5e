"""Emission of adversarial training (`objective: gan(...)`): two models, two optimizers, one
step."""

from __future__ import annotations

from pathlib import Path

from ..expr import Sym, render
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
    loss = props.loss.name
    g_plan = lower_model(g_model, program.source.path, None)
    d_plan = lower_model(d_model, program.source.path, plan.discriminator_head.value)
    d_loss, g_loss = (render(e) for e in LOSSES[loss].gan or ())  # on the discriminator's logits
    config = CF.gan_config(train, spec_name)
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
    w("def discriminator_loss(discriminator, generator, x, z):")
    w(f'    """{loss}: real examples should score high, generated ones low."""')
    w("    real = discriminator(x)")
    w("    fake = discriminator(jax.lax.stop_gradient(generator(z)))")
    w(f"    return jnp.mean({d_loss})")
    w()
    w()
    w("def generator_loss(generator, discriminator, z):")
    w(f'    """{loss}: generated examples should fool the discriminator."""')
    w("    fake = discriminator(generator(z))")
    w(f"    return jnp.mean({g_loss})")
    w()
    w()
    w("def train_step(generator, discriminator, g_optimizer, d_optimizer, x, key):")
    w('    """One discriminator step, then one generator step; returns (d_loss, g_loss)."""')
    w("    kd, kg = jax.random.split(key)")
    w("    z = sample_noise(kd, x.shape[0])")
    w(
        "    d_loss, d_grads = "
        "nnx.value_and_grad(discriminator_loss)(discriminator, generator, x, z)"
    )
    w("    d_optimizer.update(discriminator, d_grads)")
    w("    z = sample_noise(kg, x.shape[0])")
    w("    g_loss, g_grads = nnx.value_and_grad(generator_loss)(generator, discriminator, z)")
    w("    g_optimizer.update(generator, g_grads)")
    w("    return d_loss, g_loss")
    w()
    w()
    w("def generate(generator, key, n):")
    w("    return generator(sample_noise(key, n))")
    config_section(w, config)
    backend_section(w, [g_plan, d_plan], conv_tuning(plan.conv_lowering.value))
    main_block(w, "data, loop, sample grids, run folder")
    return w.text()
