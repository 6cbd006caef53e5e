"""The recurrent layers' emitted modules: one class per cell kind (LSTM, GRU, simple RNN).

Each keeps its gates' kernels fused -- an input kernel [F, gates * U], a recurrent kernel
[U, gates * U] -- so a time step costs one input and one recurrent matmul (Flax's LSTMCell: 4 + 4).
A many-to-one layer carries only the state through the loop (no stacked outputs to slice).
``hoist=True`` projects the inputs of every time step with ONE matmul before the time loop
instead. Measured on XLA:CPU (bench/recurrent.py: a W5 epoch, 1 feature, 64 units, one process,
interleaved; epoch time against Flax's cell): LSTM per step 1.28-1.30x, hoisted 0.86-0.89x; GRU
per step 1.03-1.06x, hoisted 1.18-1.19x; simple RNN per step 1.17x, hoisted 0.90x. Hence the
defaults: GRU hoists, LSTM and simple RNN project per step. bench/gpu_table.sh measures the LSTM
forms on a GPU: there, unrolling the time loop 8 steps per iteration made a W5 LSTM epoch 2.0x
faster (bench/results/gpu_h200.md), hence ``unroll=None`` (the default): 8 off the CPU, 1 on it.

The parameters are drawn like Flax's cells (nnx.LSTMCell, nnx.GRUCell, nnx.SimpleCell) gate by
gate, with the same random keys in the same order, and concatenated: the same initial function
as the per-gate cells (tests/test_perf_recurrent.py checks outputs and gradients against them).
"""

from __future__ import annotations

from ...expr import Snippet

RECURRENT_LAYER = Snippet(
    "RecurrentLayer",
    '''
class RecurrentLayer(nnx.Module):
    """What the recurrent layers share: their options, the inputs' projection, the initial carry
    and the time loop. A layer draws ``kernel`` [F, G], ``recurrent_kernel`` [U, G] and ``bias``
    [G] and defines ``cell(proj, r, act) -> step(carry, xw_t) -> carry``; the carry holds the
    layer's ``states`` in the spec's order reversed (h last: an LSTM's (c, h))."""

    states, hoist = 1, False  # the class's default for ``hoist``

    def options(self, units, recurrent_kernel_init, activation=jax.nn.tanh, sequences=False,
                reverse=False, hoist=None, unroll=None):
        """Stores the options; returns the recurrent kernels' initializer (default orthogonal).
        ``hoist``: project every step's input with ONE matmul before the loop instead of one per
        step. ``unroll=None``: by backend -- 8 steps per loop iteration on an accelerator, where a
        step is latency-bound (a W5 epoch on an H200: 34.5 ms against 70.9 ms), 1 on a CPU."""
        self.units, self.activation, self.sequences = units, activation, sequences
        self.reverse, self.unroll = reverse, unroll
        if hoist is not None:
            self.hoist = hoist
        return recurrent_kernel_init or nnx.initializers.orthogonal()

    def __call__(self, x, initial_carry=None, return_carry=False):
        """x [B, T, F] -> outputs [B, T, U] (sequences) or the last h [B, U]; ``return_carry``:
        (the final states in the spec's order -- an LSTM's (h, c), h alone otherwise, outputs)."""
        k, b = self.kernel[...], self.bias[...]
        if self.hoist:  # every step's projection, time-major: [T, B, G]
            xs, proj = jnp.einsum("btf,fg->tbg", x, k) + b, lambda v: v
        else:  # the inputs, time-major [T, B, F]: each step projects its own
            xs, proj = jnp.swapaxes(x, 0, 1), lambda v: v @ k + b
        dtype = jnp.result_type(xs.dtype, self.kernel.dtype)
        if initial_carry is None:
            carry = (jnp.zeros(xs.shape[1:2] + (self.units,), dtype),) * self.states
        else:
            given = initial_carry if isinstance(initial_carry, tuple) else (initial_carry,)
            carry = tuple(s.astype(dtype) for s in given[::-1])
        cell = self.cell(proj, self.recurrent_kernel[...], self.activation)
        sequences, unroll = self.sequences, self.unroll
        if unroll is None:  # by backend (see ``options``)
            unroll = 1 if jax.default_backend() == "cpu" else 8

        def step(carry, xw_t):
            carry = cell(carry, xw_t)
            return carry, (carry[-1] if sequences else None)

        carry, hs = jax.lax.scan(step, carry, xs, reverse=self.reverse, unroll=unroll)
        out = jnp.swapaxes(hs, 0, 1) if sequences else carry[-1]
        if not return_carry:
            return out
        return (carry[::-1] if self.states > 1 else carry[0]), out
''',
)

LSTM_LAYER = Snippet(
    "LSTM",
    '''
class LSTM(RecurrentLayer):
    """LSTM layer, gates i, f, g, o fused. Carry in the spec's order (h, c). Drawn like
    nnx.LSTMCell (same keys); a forget-gate bias of 1 with ``forget_bias``."""

    states = 2

    def __init__(self, features, units, *, kernel_init, recurrent_kernel_init=None,
                 forget_bias=True, rngs, **options):
        recurrent_kernel_init = self.options(units, recurrent_kernel_init, **options)
        ki = [kernel_init(rngs.params(), (features, units)) for _ in range(4)]
        kh = []
        for _ in range(4):  # each gate: recurrent kernel, then bias (zeros; its key is drawn)
            kh.append(recurrent_kernel_init(rngs.params(), (units, units)))
            rngs.params()
        bias = jnp.zeros((4 * units,))
        if forget_bias:  # the forget gate starts open (Jozefowicz et al., 2015; Keras' default)
            bias = bias.at[units:2 * units].set(1.0)
        self.kernel = nnx.Param(jnp.concatenate(ki, axis=1))
        self.recurrent_kernel = nnx.Param(jnp.concatenate(kh, axis=1))
        self.bias = nnx.Param(bias)

    def cell(self, proj, r, act):
        def step(carry, xw_t):
            c, h = carry
            i, f, g, o = jnp.split(proj(xw_t) + h @ r, 4, axis=-1)
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * act(g)
            return c, jax.nn.sigmoid(o) * act(c)

        return step
''',
    needs=(RECURRENT_LAYER,),
)

GRU_LAYER = Snippet(
    "GRU",
    '''
class GRU(RecurrentLayer):
    """GRU layer, gates r, z, n fused. Drawn like nnx.GRUCell (same keys)."""

    hoist = True

    def __init__(self, features, units, *, kernel_init, recurrent_kernel_init=None, rngs,
                 **options):
        recurrent_kernel_init = self.options(units, recurrent_kernel_init, **options)
        self.kernel = nnx.Param(kernel_init(rngs.params(), (features, 3 * units)))
        rngs.params()  # the input bias (zeros): its key is drawn
        self.bias = nnx.Param(jnp.zeros((3 * units,)))
        self.recurrent_kernel = nnx.Param(recurrent_kernel_init(rngs.params(), (units, 3 * units)))

    def cell(self, proj, r, act):
        def step(carry, xw_t):
            (h,) = carry
            x_r, x_z, x_n = jnp.split(proj(xw_t), 3, axis=-1)
            h_r, h_z, h_n = jnp.split(h @ r, 3, axis=-1)
            z = jax.nn.sigmoid(x_z + h_z)
            n = act(x_n + jax.nn.sigmoid(x_r + h_r) * h_n)
            return ((1.0 - z) * n + z * h,)

        return step
''',
    needs=(RECURRENT_LAYER,),
)

SIMPLE_RNN_LAYER = Snippet(
    "SimpleRNN",
    '''
class SimpleRNN(RecurrentLayer):
    """Elman layer. Drawn like nnx.SimpleCell (same keys)."""

    def __init__(self, features, units, *, kernel_init, recurrent_kernel_init=None, rngs,
                 **options):
        recurrent_kernel_init = self.options(units, recurrent_kernel_init, **options)
        self.recurrent_kernel = nnx.Param(recurrent_kernel_init(rngs.params(), (units, units)))
        self.kernel = nnx.Param(kernel_init(rngs.params(), (features, units)))
        rngs.params()  # the input bias (zeros): its key is drawn
        self.bias = nnx.Param(jnp.zeros((units,)))

    def cell(self, proj, r, act):
        def step(carry, xw_t):
            return (act(proj(xw_t) + carry[0] @ r),)

        return step
''',
    needs=(RECURRENT_LAYER,),
)

BOTH_WAYS = Snippet(
    "BothWays",
    '''
class BothWays(nnx.Module):
    """A recurrent layer run forwards and a twin run backwards over the same sequence (the
    backward one's outputs kept in time order), merged by concatenation or sum."""

    def __init__(self, forward, backward, merge="concat"):
        self.forward, self.backward, self.merge = forward, backward, merge

    def __call__(self, x):
        a, b = self.forward(x), self.backward(x)
        return a + b if self.merge == "sum" else jnp.concatenate([a, b], axis=-1)
''',
)

LAYERS = {"lstm": LSTM_LAYER, "gru": GRU_LAYER, "simple_rnn": SIMPLE_RNN_LAYER}
