"""Emission of adversarial training (`objective: gan(...)`): two models, two optimizers, one step."""
from __future__ import annotations


from ..semantics import ir
from . import training as TR
from .emit import Writer, emit_class, header
from .expr import render
from .lower import head_activation, lower_model

# (discriminator loss, generator loss) from the discriminator's logits on real and fake examples
GAN_LOSSES = {
    "non_saturating": ("jax.nn.softplus(-real) + jax.nn.softplus(fake)", "jax.nn.softplus(-fake)"),
    "minimax": ("jax.nn.softplus(-real) + jax.nn.softplus(fake)", "-jax.nn.softplus(fake)"),
    "least_squares": ("0.5 * ((real - 1) ** 2 + fake ** 2)", "0.5 * (fake - 1) ** 2"),
}


def emit_gan(program: ir.Program, train: ir.Train, spec_name: str) -> str:
    props = train.props
    g_model, d_model = train.generator, train.discriminator
    noise = props.objective.params.noise
    loss = props.loss.name
    d_head = head_activation(d_model)
    fold = "sigmoid" if d_head == "sigmoid" and loss != "least_squares" else None
    g_plan = lower_model(g_model, program.source.path, None)
    d_plan = lower_model(d_model, program.source.path, fold)
    helpers = g_plan.helpers | d_plan.helpers
    d_loss, g_loss = GAN_LOSSES[loss]
    config = {
        "kind": "gan", "spec": spec_name, "train": train.name, "generator": g_model.name,
        "discriminator": d_model.name, "batch_size": props.batch_size, "epochs": props.epochs, "seed": props.seed,
        "drop_remainder": True, "noise": {"kind": noise.name, "shape": list(noise.params.shape)},
        "samples": props.samples.model_dump(mode="json") if props.samples else {"every": max(1, props.epochs // 5), "count": 64},
        "example_shape": list(g_model.outputs[0].shape), "strategy": "step" if g_plan.convolutional or d_plan.convolutional else "scan",
        "data": TR.data_config(train.data),
    }
    w = Writer()
    header(w, f"Adversarial training program for `train {train.name}` of {spec_name}: {g_model.name} against "
           f"{d_model.name} on data {train.data.name}.", spec_name, config, helpers)
    seen = set()
    for cls in [*g_plan.classes, *d_plan.classes]:
        if cls.name not in seen:
            seen.add(cls.name)
            emit_class(w, cls)
    w("def make_models(seed: int = 0):")
    w(f"    return {g_plan.top}(nnx.Rngs(seed)), {d_plan.top}(nnx.Rngs(seed + 1))")
    w()
    w()
    w("def make_optimizers(steps_per_epoch: int, epochs: int):")
    w('    """(generator optimizer, discriminator optimizer)."""')
    for which, var in (("generator_optimizer", "g_tx"), ("discriminator_optimizer", "d_tx")):
        for target, expr in TR.optimizer_lines(train, which):
            w(f"    {target} = {render(expr)}")
        w(f"    {var} = tx")
    w("    return g_tx, d_tx")
    w()
    w()
    w("def sample_noise(key, n):")
    sampler = "jax.random.normal(key, (n, *{shape}))" if noise.name == "normal" else \
        "jax.random.uniform(key, (n, *{shape}), minval=-1.0, maxval=1.0)"
    w(f"    return {sampler.format(shape=tuple(noise.params.shape))}")
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
    w("    d_loss, d_grads = nnx.value_and_grad(discriminator_loss)(discriminator, generator, x, z)")
    w("    d_optimizer.update(discriminator, d_grads)")
    w("    z = sample_noise(kg, x.shape[0])")
    w("    g_loss, g_grads = nnx.value_and_grad(generator_loss)(generator, discriminator, z)")
    w("    g_optimizer.update(generator, g_grads)")
    w("    return d_loss, g_loss")
    w()
    w()
    w("def generate(generator, key, n):")
    w("    return generator(sample_noise(key, n))")
    w()
    w()
    w('if __name__ == "__main__":  # train with nncompile\'s runtime: data, loop, sample grids, run folder')
    w("    from nncompile.runtime.standalone import main")
    w()
    w("    main(__file__)")
    return w.text()
