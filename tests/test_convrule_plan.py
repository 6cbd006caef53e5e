"""The plan's convolution rule (nncompile.plan.conv_lowering; bench/convrule.py measured it):
supervised programs compute nnx.Conv through canonical_conv on CPU (XLA's convolution, gradients
written channels-last, fast inside the scan-fused epoch), GANs keep im2col / col2im, and the
emitted program's backend tuning says so."""

import nncompile
from nncompile.codegen.emit import emit_model
from nncompile.compiler import analyse
from nncompile.plan import (
    CANONICAL_COL2IM_ON_CPU,
    CANONICAL_ON_CPU,
    COL2IM_ON_CPU,
    conv_lowering,
    describe,
)
from nncompile.source import Source

AE = """
model AE {
  input x: [8, 8, 1]
  conv2d(8, 3, strides=2, activation=relu)
  conv2d_transpose(8, 3, strides=2, activation=relu)
  upsample(1)
  conv2d(1, 3, activation=sigmoid)
}
train { model: AE  loss: mse  optimizer: adam(lr=1e-3)  batch_size: 16  epochs: 1 }
"""


def model(text: str):
    program, diagnostics = analyse(Source(text, "m.nn"))
    assert program is not None, diagnostics
    return program


CNN = "model C { input x: [8, 8, 1]  conv2d(4, 3, strides=2)  flatten()  dense(2) }"


def test_supervised_convolutions_take_canonical_gradients_gans_keep_col2im():
    m = model(AE).models["AE"]
    supervised = conv_lowering([m])
    assert supervised.value == CANONICAL_COL2IM_ON_CPU == "canonical gradients and col2im on CPU"
    assert supervised.why.startswith("conv2d, conv2d_transpose: on XLA:CPU, XLA's own convolution")
    assert "bench/convrule.py" in supervised.why and "conv2d_transpose as col2im" in supervised.why
    assert conv_lowering([m], gan=True).value == COL2IM_ON_CPU
    plain = conv_lowering([model(CNN).models["C"]])
    assert plain.value == CANONICAL_ON_CPU == "canonical gradients on CPU"
    assert "col2im" not in plain.why
    dense = model("model D { input x: [4]  dense(2) }").models["D"]
    assert conv_lowering([dense]).value == "none"
    assert conv_lowering([dense], gan=True).value == "none"


def test_the_plan_prints_the_rule_and_the_program_applies_it():
    program = model(AE)
    assert "  conv lowering:      canonical gradients and col2im on CPU\n" in describe(program)
    _, tuning = nncompile.compile(text=AE).source.split("# ---- backend tuning", 1)
    assert "def canonical_col2im_conv(" in tuning and "def col2im_conv(" in tuning
    assert "module.conv_general_dilated = canonical_col2im_conv" in tuning
    assert "canonical_col2im_conv" in emit_model(program.models["AE"], "m.nn")
    text = CNN + "\ntrain { model: C  loss: mse  optimizer: sgd(lr=0.1)  batch_size: 4  epochs: 1 }"
    _, tuning = nncompile.compile(text=text).source.split("# ---- backend tuning", 1)
    assert "def canonical_conv(" in tuning and "im2col" not in tuning
    assert "module.conv_general_dilated = canonical_conv" in tuning
