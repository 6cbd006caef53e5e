"""The plan's convolution rule (nncompile.plan.conv_lowering; bench/convrule.py and bench/run.py
measured it): supervised programs with narrow strided or transposed convolutions compute nnx.Conv
through canonical_conv on CPU (XLA's convolution, gradients written channels-last, fast inside the
scan-fused epoch), stride-1 ones, wide resampling ones and GANs keep im2col / col2im, and the
emitted program's backend tuning says so."""

import nncompile
from nncompile.codegen.emit import emit_model
from nncompile.compiler import analyse
from nncompile.plan import (
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


DECODER = """
model Dec {
  input x: [8, 8, 1]
  conv2d(32, 3, strides=2, activation=relu)
  conv2d(64, 3, strides=2, activation=relu)
  conv2d_transpose(64, 3, strides=2, activation=relu)
  conv2d_transpose(32, 3, strides=2, activation=relu)
  conv2d(1, 3, activation=sigmoid)
}
"""


def test_narrow_resampling_takes_canonical_gradients_stride_1_and_gans_keep_im2col():
    m = model(AE).models["AE"]
    supervised = conv_lowering([m])
    assert supervised.value == CANONICAL_ON_CPU == "canonical gradients on CPU"
    assert supervised.why.startswith(
        "conv2d(1 x 8), conv2d_transpose(8 x 8): narrow strided or transposed convolutions: on "
        "XLA:CPU, XLA's own convolution"
    )
    stride_1 = "model S { input x: [8, 8, 1]  conv2d(32, 3, padding=same)  conv2d(64, 3) }"
    assert conv_lowering([model(stride_1).models["S"]]).value == "im2col on CPU"  # W2's form
    assert "bench/convrule.py" in supervised.why
    assert conv_lowering([m], gan=True).value == COL2IM_ON_CPU
    dense = model("model D { input x: [4]  dense(2) }").models["D"]
    assert conv_lowering([dense]).value == "none"
    assert conv_lowering([dense], gan=True).value == "none"


def test_wide_strided_or_transposed_convolutions_keep_im2col_and_col2im():
    decoder = conv_lowering([model(DECODER).models["Dec"]])
    assert decoder.value == COL2IM_ON_CPU
    assert decoder.why.startswith(
        "conv2d(32 x 64), conv2d_transpose(64 x 64), conv2d_transpose(64 x 32): strided or "
        "transposed with in x out channels >= 512, where canonical gradients lose"
    )
    wide = "model W { input x: [8, 8, 16]  conv2d(32, 3, strides=2)  conv2d(64, 3) }"
    assert conv_lowering([model(wide).models["W"]]).value == "im2col on CPU"  # 16 x 32
    narrow = "model N { input x: [8, 8, 8]  conv2d(32, 3, strides=2)  conv2d(64, 3) }"
    assert conv_lowering([model(narrow).models["N"]]).value == CANONICAL_ON_CPU  # 8 x 32; 32 x 64
    caps = "model P { input x: [8, 8, 32]  primary_caps(capsules=8, dim=8, kernel=3, strides=2) }"
    assert conv_lowering([model(caps).models["P"]]).value == "im2col on CPU"  # 32 x 64


def test_the_plan_prints_the_rule_and_the_program_applies_it():
    program = model(AE)
    assert "  conv lowering:      canonical gradients on CPU\n" in describe(program)
    _, tuning = nncompile.compile(text=AE).source.split("# ---- backend tuning", 1)
    assert "def canonical_conv(" in tuning and "im2col" not in tuning
    assert "module.conv_general_dilated = canonical_conv" in tuning
    assert "canonical_conv" in emit_model(program.models["AE"], "m.nn")
