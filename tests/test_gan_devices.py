"""GANs on several devices (runtime/gan_epochs.py): on 4 forced CPU devices (a subprocess,
tests/scale/gan_runner.py, since XLA_FLAGS must be set before JAX starts) the batch is split over
the mesh and the states stay replicated, and a few epochs train the same states as on one device.
"""

from __future__ import annotations

import numpy as np
from gan_specs import tiny_gan
from scale.forced import arrays

# a conditional GAN (labels travel with the batch) with dropout in the discriminator; 11 steps an
# epoch on a fifth of the digits
SPEC = tiny_gan(
    """
train {
  objective: gan(generator=G, discriminator=D, noise=normal([8]), condition=label)
  data: d  loss: non_saturating  optimizer: adam(lr=1e-3, b1=0.5)
  batch_size: 32  epochs: 2
  samples: {every: 2, count: 10}
  seed: 3
}
""",
    conditional=True,
    dropout=0.3,
)


def test_four_devices_train_the_same_gan_as_one(tmp_path):
    spec = tmp_path / "cgan.nn"
    spec.write_text(SPEC)
    a = arrays("gan_runner", spec, tmp_path / "out.npz", 2, 1, 4)
    # one device: the plain program; four: every array on the 4 devices, gradients all-reduced
    assert set(a["1/devices"]) == {1}
    assert set(a["4/devices"]) == {4} and int(a["4/all_reduce"]) > 0
    assert int(a["1/traces"]) == int(a["4/traces"]) == 2  # one epoch function, one sampler
    leaves = sorted((k for k in a if k.split("/")[1].isdigit()), key=lambda k: int(k[2:]))
    one = [a[k] for k in leaves if k.startswith("1/")]
    four = [a[k] for k in leaves if k.startswith("4/")]
    assert len(one) == len(four) > 10
    for x, y in zip(one, four, strict=True):
        np.testing.assert_allclose(y, x, rtol=1e-5, atol=1e-5)
    for key in ("d_loss", "g_loss", "samples"):
        np.testing.assert_allclose(a[f"4/{key}"], a[f"1/{key}"], rtol=1e-5, atol=1e-5)
