"""More forms of generated specs (spec_strategy.py draws them besides its one-input model):

- several inputs and outputs: an npz archive of named arrays (float vectors and sequences, token
  ids, class ids, binary labels, regression vectors, class ids per step), a branch per input,
  merged (concat, add, cross-attention between sequences), registry layers grown on the trunk, a
  head per output, one loss or a loss per output, loss weights, metrics as a list or per output;
- adversarial training: `objective: gan(...)` over vectors or images, conditional or not (the
  label as class id or one-hot), label smoothing, instance noise, both noises, a generator and a
  discriminator with registry layers grown in them, optimizers per model, samples;
- encoder-decoders with `decode: {input, start}`: recurrent states passed as `initial_state`,
  cross-attention, a causal transformer decoder;
- train-block options the one-input form draws: `logical_shards`, `strategy`, `accumulate`,
  `drop_remainder`, mini-batches, phased schedules, `unfreeze_after`, `class_weight`.

Each spec is checked as it is built; a part `check` refuses is drawn again or left out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from spec_data import example_folder
from spec_strategy import GAN_LOSSES, TRIES, check_text, layer_call, number_text, optimizer_text

from nncompile.registry.layers import LAYERS
from nncompile.registry.losses import LOSSES
from nncompile.registry.optimizers import OPTIMIZERS

N = 24  # rows of the archive (split: train 1, or halves and quarters)


# ---- the archive of named arrays ----------------------------------------------------------------
def archive() -> Path:
    """``several.npz`` in the example folder (written once): the arrays the several-IO and decoder
    forms name."""
    path = example_folder() / "several.npz"
    if not path.exists():
        rng = np.random.default_rng(0)
        src = rng.integers(1, 6, size=(N, 5))
        ans = src[:, ::-1]
        arrays = {
            "a": rng.normal(size=(N, 4)).astype(np.float32),  # a float vector
            "b": rng.normal(size=(N, 3, 2)).astype(np.float32),  # a float sequence
            "s": rng.integers(0, 6, size=(N, 5)),  # token ids
            "c": np.arange(N) % 3,  # class ids
            "k": np.arange(N) % 2,  # binary labels
            "v": rng.normal(size=(N, 2)).astype(np.float32),  # a regression vector
            "q": rng.integers(0, 4, size=(N, 5)),  # class ids per step
            "src": src,  # an encoder-decoder's source, answer and shifted answer
            "ans": ans,
            "sh": np.concatenate([np.zeros((N, 1), np.int64), ans[:, :-1]], axis=1),
        }
        np.savez(path, **arrays)
    return path


INPUTS = {"a": "[4]", "b": "[3, 2]", "s": "int[5]"}
BRANCHES = {  # statements reading the input, the last one a vector [F] or a sequence [T, F]
    "a": [["dense(6, activation=relu)"], ["dense(4)", "layer_norm()"], ["reshape([2, 2])"]],
    "b": [["flatten()"], ["lstm(4)"], ["gru(4, return_sequences=true)"], ["conv1d(4, 2)"]],
    "s": [
        ["embedding(6, 4)", "flatten()"],
        ["embedding(6, 4)"],
        ["one_hot(6)", "lstm(4, return_sequences=true)"],
        ["embedding(6, 4)", "global_avg_pool()"],
    ],
}
CCE = ["categorical_crossentropy"]
REGRESSION = [e.name for e in LOSSES.entries() if e.task == "regression"]
OUTPUTS = {  # output: ((head on a vector, its losses), ...), (head on a sequence [T, F], ...)
    "c": (
        [(["dense(3, activation=softmax)"], CCE), (["dense(3)"], CCE)],
        [
            (["flatten()", "dense(3, activation=softmax)"], CCE),
            (["global_max_pool()", "dense(3)"], CCE),
        ],
    ),
    "k": (
        [(["dense(1, activation=sigmoid)"], ["binary_crossentropy"]), (["dense(2)"], CCE)],
        [(["global_avg_pool()", "dense(1, activation=sigmoid)"], ["binary_crossentropy"])],
    ),
    "v": (
        [(["dense(2)"], REGRESSION), (["dense(4, activation=tanh)", "dense(2)"], REGRESSION)],
        [(["flatten()", "dense(2)"], REGRESSION)],
    ),
    "q": (
        [(["repeat(5)", "lstm(4, return_sequences=true)", "dense(4, activation=softmax)"], CCE)],
        [(["dense(4, activation=softmax)"], CCE), (["transformer_block(2)", "dense(4)"], CCE)],
    ),
}
MERGES = ["concat({a}, {b})", "add({a}, {b})", "multi_head_attention({a}, {b}, heads=2)"]
LET = "let two = 2\n"  # (numbers may be written `two * 3`: spec_strategy.number_text)


@st.composite
def grow(draw, lines: list[str], source: str, count: int, before: str, after: str) -> list[str]:
    """Up to ``count`` statements of registry layers reading ``source`` (and each other), kept when
    the spec ``before + lines + after`` checks."""
    layers = [e for e in LAYERS.entries() if not e.merge]
    out: list[str] = []
    last = source
    for i in range(count):
        for _ in range(TRIES):
            stmt = f"g{i}_{source} = {draw(layer_call(draw(st.sampled_from(layers))))}({last})"
            text = LET + before + "\n".join(f"  {s}" for s in [*lines, *out, stmt]) + after
            if not check_text(text)[1]:
                out.append(stmt)
                last = f"g{i}_{source}"
                break
    return out


# ---- several inputs and outputs -----------------------------------------------------------------
@st.composite
def several_io_specs(draw) -> str:
    """A model of one or two of the archive's inputs and one or two of its outputs (at least one
    of them several), checked."""
    path = archive()
    for _ in range(TRIES):
        n_in = draw(st.integers(1, 2))
        n_out = 2 if n_in == 1 else draw(st.integers(1, 2))
        inputs = draw(st.permutations(sorted(INPUTS)))[:n_in]
        outputs = draw(st.permutations(sorted(OUTPUTS)))[:n_out]
        text = _several_io(draw, path, inputs, outputs)
        if text is not None:
            return text
    assume(False)
    raise AssertionError  # (unreachable)


def _several_io(draw, path: Path, inputs: list[str], outputs: list[str]) -> str | None:
    def names(items: list[str]) -> str:
        return (
            f'"{items[0]}"' if len(items) == 1 else "[" + ", ".join(f'"{i}"' for i in items) + "]"
        )

    split = draw(st.sampled_from(["{train: 1}", "{train: 0.5, val: 0.25, test: 0.25}"]))
    norm = draw(st.sampled_from(["", "  normalize: minmax", "  normalize: standard"]))
    source = f'npz("{path}", x={names(inputs)}, y={names(outputs)})'
    data = f"{LET}data d {{ source: {source}  split: {split}{norm} }}\n"
    lines = [f"input {i}: {INPUTS[i]}" for i in inputs]
    ends = []
    for i in inputs:
        branch = draw(st.sampled_from(BRANCHES[i]))
        prev = i
        for j, stmt in enumerate(branch):
            lines.append(f"{i}{j} = {stmt}({prev})")
            prev = f"{i}{j}"
        ends.append(prev)

    def model_only(body: list[str]):
        return check_text(LET + "model M {\n" + "\n".join(f"  {s}" for s in body) + "\n}\n")

    trunk = ends[0]
    if len(ends) == 2:
        for merge in draw(st.permutations(MERGES)):
            stmt = "m = " + merge.format(a=ends[0], b=ends[1])
            if not model_only([*lines, stmt])[1]:
                lines.append(stmt)
                trunk = "m"
                break
        else:
            return None
    lines += draw(grow(lines, trunk, draw(st.integers(0, 1)), "model M {\n", "\n}\n"))
    if lines[-1].startswith("g"):
        trunk = lines[-1].split(" = ")[0]
    program, errors = model_only(lines)
    if errors or program is None:
        return None
    rank = len(next(n for n in program.models["M"].nodes if n.output == trunk).shape)
    losses = {}
    for o in outputs:
        vector, sequence = OUTPUTS[o]
        heads = {1: vector, 2: sequence}.get(rank) or [(["flatten()", *h], x) for h, x in vector]
        head, fits = draw(st.sampled_from(heads))
        losses[o] = draw(st.sampled_from(fits))
        prev = trunk
        for j, stmt in enumerate(head):
            name = o if j == len(head) - 1 else f"{o}_h{j}"
            lines.append(f"{name} = {stmt}({prev})")
            prev = name
    model = "model M {\n" + "\n".join(f"  {s}" for s in lines) + "\n  output "
    model += ", ".join(outputs) + "\n}\n"
    if len(set(losses.values())) == 1 and draw(st.booleans()):
        loss = next(iter(losses.values()))
    else:
        loss = "{" + ", ".join(f"{o}: {name}" for o, name in losses.items()) + "}"
    optimizer = optimizer_text(draw(st.sampled_from(OPTIMIZERS.entries())), 1e-2)
    base = [f"model: M  data: d  loss: {loss}", f"optimizer: {optimizer}  epochs: 1"]
    candidates = [draw(st.sampled_from(["batch_size: full", "batch_size: 8"]))]
    if draw(st.booleans()):
        weights = ", ".join(f"{o}: {draw(st.sampled_from([0.5, 1.0, 2.0]))}" for o in outputs)
        candidates.append(f"loss_weights: {{{weights}}}")
    if draw(st.booleans()):
        candidates.append(
            draw(
                st.sampled_from(
                    ["metrics: [accuracy]", "metrics: [mae]", "metrics: [accuracy, mse]"]
                )
            )
        )
    if draw(st.booleans()):
        o = draw(st.sampled_from(outputs))
        candidates.append(f"metrics: {{{o}: [{draw(st.sampled_from(['accuracy', 'mae', 'f1']))}]}}")
    if "val:" in split and draw(st.booleans()):
        monitor = f"val_{draw(st.sampled_from(outputs))}_loss"
        candidates.append(f"early_stopping: {{monitor: {monitor}, patience: 1}}")
    candidates += draw(train_options())
    extras = _keep(data + model, base, candidates)
    if extras is None:
        return None
    return data + model + train_block(base + extras)


# ---- adversarial training -----------------------------------------------------------------------
GAN_DATA = [  # (data block, example shape)
    (
        'data d { source: synthetic("blobs", n=24, features=8, classes=3)  normalize: minmax'
        "  split: {train: 1} }\n",
        (8,),
    ),
    (
        'data d { source: synthetic("blobs", n=24, features=16, classes=4)  reshape: [4, 4, 1]'
        "  normalize: minmax  split: {train: 1} }\n",
        (4, 4, 1),
    ),
]


@st.composite
def gan_specs(draw) -> str:
    """A GAN spec (conditional or not), checked."""
    data, shape = draw(st.sampled_from(GAN_DATA))
    data = LET + data
    classes = 3 if shape == (8,) else 4
    for _ in range(TRIES):
        text = _gan(draw, data, shape, classes)
        if text is not None:
            return text
    assume(False)
    raise AssertionError


def _gan(draw, data: str, shape: tuple[int, ...], classes: int) -> str | None:
    z = draw(st.sampled_from([[4], [2, 2], [3]]))
    zdims = ", ".join(map(str, z))
    cond = draw(st.sampled_from([None, "int", "onehot"]))
    features = int(np.prod(shape))
    g = [f"input z: [{zdims}]"]
    last = "z"
    if len(z) > 1:
        g.append("zf = flatten()(z)")
        last = "zf"
    if cond == "int":
        g += ["input label: int[1]", "le = embedding(K, 3)(label)", "lf = flatten()(le)"]
        g.append(f"h = concat({last}, lf)")
        last = "h"
    elif cond == "onehot":
        g += ["input label: [K]", f"h = concat({last}, label)"]
        last = "h"
    g = [s.replace("K", str(classes)) for s in g]
    g += draw(grow(g, last, draw(st.integers(0, 2)), "model G {\n", "\n}\n"))
    last = g[-1].split(" = ")[0] if g[-1].startswith("g") else last
    out = draw(st.sampled_from(["sigmoid", "tanh", None]))
    act = f", activation={out}" if out else ""
    if len(shape) == 1:
        g.append(f"dense({features}{act})({last})")
    else:
        g += draw(
            st.sampled_from(
                [
                    [f"gd = dense({features}{act})({last})", f"reshape({list(shape)})(gd)"],
                    [
                        f"gd = dense(8, activation=relu)({last})",
                        "gr = reshape([2, 2, 2])(gd)",
                        f"conv2d_transpose(1, 3, strides=2{act})(gr)",
                    ],
                    [
                        f"gd = dense(4)({last})",
                        "gr = reshape([2, 2, 1])(gd)",
                        "upsample(2)(gr)",
                    ],
                ]
            )
        )
    dims = ", ".join(map(str, shape))
    d = [f"input x: [{dims}]"]
    last = "x"
    if len(shape) > 1:
        d += draw(
            st.sampled_from(
                [["xf = flatten()(x)"], ["xc = conv2d(4, 3, strides=2)(x)", "xf = flatten()(xc)"]]
            )
        )
        last = "xf"
    if cond == "int":
        d += ["input label: int[1]", "le = embedding(K, 3)(label)", "lf = flatten()(le)"]
        d.append(f"h = concat({last}, lf)")
        last = "h"
    elif cond == "onehot":
        d += ["input label: [K]", f"h = concat({last}, label)"]
        last = "h"
    d = [s.replace("K", str(classes)) for s in d]
    d += draw(grow(d, last, draw(st.integers(0, 2)), "model D {\n", "\n}\n"))
    last = d[-1].split(" = ")[0] if d[-1].startswith("g") else last
    d.append(f"dense(1)({last})")
    models = "".join(
        f"model {name} {{\n" + "\n".join(f"  {s}" for s in body) + "\n}\n"
        for name, body in (("G", g), ("D", d))
    )
    noise = f"{draw(st.sampled_from(['normal', 'uniform']))}([{zdims}])"
    args = [f"generator=G, discriminator=D, noise={noise}"]
    if cond:
        args.append("condition=label")
    if draw(st.booleans()):
        args.append(f"label_smoothing={draw(st.sampled_from([0.1, 0.2]))}")
    if draw(st.booleans()):
        args.append(f"instance_noise={draw(st.sampled_from([0.05, 0.5]))}")
    optimizer = optimizer_text(draw(st.sampled_from(OPTIMIZERS.entries())), 1e-3)
    base = [
        f"objective: gan({', '.join(args)})",
        f"data: d  loss: {draw(st.sampled_from(sorted(GAN_LOSSES)))}  optimizer: {optimizer}",
        f"epochs: 1  {draw(st.sampled_from(['batch_size: full', 'batch_size: 8']))}",
    ]
    candidates = []
    if draw(st.booleans()):
        other = optimizer_text(draw(st.sampled_from(OPTIMIZERS.entries())), 1e-3)
        candidates.append(f"generator_optimizer: {other}")
    if draw(st.booleans()):
        candidates.append(f"samples: {{every: 1, count: {draw(st.sampled_from([1, 4, 9]))}}}")
    if draw(st.booleans()):
        candidates.append("clip_norm: 1.0")
    if draw(st.integers(0, 3)) == 0:
        candidates.append(f"seed: {draw(st.integers(0, 3))}")
    extras = _keep(data + models, base, candidates)
    return None if extras is None else data + models + train_block(base + extras)


# ---- encoder-decoders ---------------------------------------------------------------------------
DECODERS = [
    [  # recurrent states passed on
        "e = embedding(6, 4)(src)",
        "enc, h, c = lstm(W, return_sequences=true, return_state=true)(e)",
        "t = embedding(6, 4)(sh)",
        "dec = lstm(W, return_sequences=true, initial_state=[h, c])(t)",
    ],
    [
        "e = one_hot(6)(src)",
        "enc, h = gru(W, return_state=true)(e)",
        "t = embedding(6, 4)(sh)",
        "dec = gru(W, return_sequences=true, initial_state=[h])(t)",
    ],
    [  # cross-attention over the encoder's steps
        "e = embedding(6, W)(src)",
        "enc = simple_rnn(W, return_sequences=true)(e)",
        "t = embedding(6, W)(sh)",
        "r = gru(W, return_sequences=true)(t)",
        "dec = multi_head_attention(r, enc, heads=2)",
    ],
    [  # a causal transformer decoder
        "e = embedding(6, W)(src)",
        "t = embedding(6, W)(sh)",
        "p = positional_embedding()(t)",
        "dec = transformer_block(2, causal=true)(p)",
    ],
]


@st.composite
def decoder_specs(draw) -> str:
    path = archive()
    body = [
        s.replace("W", str(draw(st.sampled_from([4, 6])))) for s in draw(st.sampled_from(DECODERS))
    ]
    head = draw(st.sampled_from(["dense(6, activation=softmax)", "dense(6)"]))
    model = (
        "model M {\n  input src: int[5]\n  input sh: int[5]\n"
        + "".join(f"  {s}\n" for s in body)
        + f"  ans = {head}(dec)\n  output ans\n}}\n"
    )
    split = draw(st.sampled_from(["{train: 1}", "{train: 0.5, test: 0.5}"]))
    data = f'data d {{ source: npz("{path}", x=["src", "sh"], y="ans")  split: {split} }}\n'
    optimizer = optimizer_text(draw(st.sampled_from(OPTIMIZERS.entries())), 1e-2)
    base = [
        "model: M  data: d  loss: categorical_crossentropy",
        f"optimizer: {optimizer}  epochs: 1  batch_size: full",
        "decode: {input: sh, start: 0}",
    ]
    candidates = []
    if draw(st.booleans()):
        candidates.append(
            draw(st.sampled_from(["metrics: [accuracy, exact_match]", "metrics: [accuracy]"]))
        )
    candidates += draw(train_options())
    extras = _keep(data + model, base, candidates)
    assume(extras is not None)
    return data + model + train_block(base + (extras or []))


# ---- train-block options ------------------------------------------------------------------------
@st.composite
def train_options(draw) -> list[str]:
    """Options of a supervised train block, each drawn now and then (kept when check accepts)."""
    out = []
    if draw(st.integers(0, 3)) == 0:
        out.append(f"logical_shards: {draw(st.sampled_from([2, 3, 4]))}")
    if draw(st.integers(0, 3)) == 0:
        out.append(f"strategy: {draw(st.sampled_from(['scan', 'step', 'auto']))}")
    if draw(st.integers(0, 4)) == 0:
        out.append(f"accumulate: {draw(st.sampled_from([2, 3]))}")
    if draw(st.integers(0, 4)) == 0:
        out.append("drop_remainder: false")
    if draw(st.integers(0, 4)) == 0:
        size = draw(number_text(draw(st.sampled_from([1, 5, 8]))))
        out.append(f"batch_size: {size}")
    if draw(st.integers(0, 5)) == 0:
        out.append(
            "schedule: "
            + draw(
                st.sampled_from(["[warmup(2), cosine()]", "[constant(steps=1), exponential(0.5)]"])
            )
        )
    if draw(st.integers(0, 5)) == 0:
        out.append("devices: 1")
    if draw(st.integers(0, 5)) == 0:  # kept for classification losses of one output
        weights = draw(st.sampled_from(["balanced", "{0: 2.0}", "{1: 0.5, 0: 3}"]))
        out.append(f"class_weight: {weights}")
    return out


def _keep(blocks: str, base: list[str], candidates: list[str]) -> list[str] | None:
    """The candidates check accepts, one after the other; None when the base itself is refused."""
    if check_text(blocks + train_block(base))[1]:
        return None
    kept: list[str] = []
    for extra in candidates:
        key = extra.split(":")[0]
        if any(k.split(":")[0] == key for k in kept):
            continue
        if not check_text(blocks + train_block([*base, *kept, extra]))[1]:
            kept.append(extra)
    return kept


def train_block(lines: list[str]) -> str:
    return "train {\n" + "".join(f"  {line}\n" for line in lines) + "}\n"
