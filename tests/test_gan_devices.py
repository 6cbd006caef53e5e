"""GANs on several devices (runtime/gan_epochs.py): on 4 forced CPU devices (a subprocess,
tests/scale/gan_runner.py, since XLA_FLAGS must be set before JAX starts) the batch is split over
the mesh and the states stay replicated, and a few epochs train the same states as on one device;
a checkpoint written on 4 devices resumes on 2 and ends where the 4-device run ends (to float
tolerance, as a classifier's does: tests/test_scale_resume.py).
"""

from __future__ import annotations

import numpy as np
import pytest
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
    assert_close(a, "1", "4")


@pytest.mark.slow  # three GAN runs compiled in a child process
def test_a_checkpoint_written_on_four_devices_resumes_on_two(tmp_path):
    spec = tmp_path / "cgan.nn"
    spec.write_text(SPEC)
    # "4:2": stopped after epoch 1 on 4 devices (its checkpoint), epoch 2 resumed on 2
    a = arrays("gan_runner", spec, tmp_path / "out.npz", 2, 4, "4:2")
    assert set(a["4:2/devices"]) == {2} and int(a["4:2/all_reduce"]) > 0  # it ran on 2
    assert len(a["4:2/d_loss"]) == 2
    assert a["4:2/d_loss"][0] == a["4/d_loss"][0]  # the checkpoint's epoch, as it was recorded
    # the states laid out on the smaller mesh continue the run: where the uninterrupted 4-device
    # run ends, within float tolerance (2 devices all-reduce the gradients in another order)
    assert_close(a, "4", "4:2")


def states(a: dict, run: str) -> list[np.ndarray]:
    """The models' and optimizers' leaves of a run, in order."""
    keys = [k for k in a if k.startswith(f"{run}/") and k.split("/")[1].isdigit()]
    return [a[k] for k in sorted(keys, key=lambda k: int(k.split("/")[1]))]


def assert_close(a: dict, run: str, other: str) -> None:
    """Every leaf, the losses of every epoch and the last sample grid to 1e-5."""
    want, got = states(a, run), states(a, other)
    assert len(want) == len(got) > 10
    for x, y in zip(want, got, strict=True):
        np.testing.assert_allclose(y, x, rtol=1e-5, atol=1e-5)
    for key in ("d_loss", "g_loss", "samples"):
        np.testing.assert_allclose(a[f"{other}/{key}"], a[f"{run}/{key}"], rtol=1e-5, atol=1e-5)
