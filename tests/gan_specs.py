"""The small digits GANs the GAN tests train: a generator and a discriminator of one hidden layer
each over a part of scikit-learn's digits, unconditional or conditioned on the class label."""

from __future__ import annotations


def tiny_gan(train: str, *, subset: float = 0.2, conditional: bool = False, dropout=None) -> str:
    """A spec: the data block `d`, models G and D, and the given train block."""
    label_g = (
        "  input label: int[1]\n  e = embedding(10, 4)(label)\n  f = flatten()(e)\n"
        "  h = concat(z, f)\n"
        if conditional
        else ""
    )
    label_d = "  input label: [10]\n  h = concat(x, label)\n" if conditional else ""
    drop = f"  dropout({dropout})\n" if dropout is not None else ""
    return f"""
data d {{
  source: sklearn("digits")
  split: {{train: 1}}
  normalize: minmax
  subset: {subset}
}}
model G {{
  input z: [8]
{label_g}  dense(32, activation=relu)
  dense(64, activation=sigmoid)
}}
model D {{
  input x: [64]
{label_d}  dense(32, activation=leaky_relu(0.2))
{drop}  dense(1)
}}
{train.strip()}
"""
