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

RUN_CELL = Snippet(
    "run_cell",
    '''
def run_cell(cell, carry, xw, sequences, reverse, unroll):
    """Scan ``cell(carry, xw_t) -> carry`` over the time-major projections ``xw`` [T, B, G] (a
    carry's last element is h). Returns (final carry, outputs [B, T, U] or the final h).
    ``unroll=None``: by backend -- 8 steps per loop iteration on an accelerator, where a step is
    latency-bound (a W5 epoch on an H200: 34.5 ms against 70.9 ms), 1 on a CPU."""
    if unroll is None:
        unroll = 1 if jax.default_backend() == "cpu" else 8

    def step(carry, xw_t):
        carry = cell(carry, xw_t)
        return carry, (carry[-1] if sequences else None)

    carry, hs = jax.lax.scan(step, carry, xw, reverse=reverse, unroll=unroll)
    return carry, (jnp.swapaxes(hs, 0, 1) if sequences else carry[-1])
''',
)

_COMMON = '''
    def _inputs(self, x):
        """The time-major inputs of the loop and the projection a step applies to its own: with
        ``hoist``, every step's projection as one matmul here ([B, T, F] -> [T, B, G]); else the
        inputs [T, B, F], each step projecting its own."""
        k, b = self.kernel[...], self.bias[...]
        if self.hoist:
            return jnp.einsum("btf,fg->tbg", x, k) + b, lambda v: v
        return jnp.swapaxes(x, 0, 1), lambda v: v @ k + b

    def _carry(self, xw, initial_carry, states):
        """The initial states in the projections' dtype: zeros, or ``initial_carry``."""
        if initial_carry is None:
            dtype = jnp.result_type(xw.dtype, self.kernel.dtype)
            return (jnp.zeros(xw.shape[1:2] + (self.units,), dtype),) * states
        states = initial_carry if isinstance(initial_carry, tuple) else (initial_carry,)
        return tuple(s.astype(jnp.result_type(xw.dtype, self.kernel.dtype)) for s in states)

    def _out(self, carry, out, return_carry):
        return (self.carry_out(carry), out) if return_carry else out
'''

LSTM_LAYER = Snippet(
    "LSTM",
    '''
class LSTM(nnx.Module):
    """LSTM layer, gates i, f, g, o fused: x [B, T, F] -> [B, T, U] (sequences) or the last h
    [B, U]. Carry in the spec's order (h, c). Drawn like nnx.LSTMCell (same keys); a forget-gate
    bias of 1 with ``forget_bias``."""

    def __init__(self, features, units, *, kernel_init, recurrent_kernel_init=None,
                 activation=jax.nn.tanh, forget_bias=True, sequences=False, reverse=False,
                 hoist=False, unroll=None, rngs):
        recurrent_kernel_init = recurrent_kernel_init or nnx.initializers.orthogonal()
        self.units, self.activation, self.sequences = units, activation, sequences
        self.reverse, self.hoist, self.unroll = reverse, hoist, unroll
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
'''
    + _COMMON
    + """
    def carry_out(self, carry):
        c, h = carry
        return h, c

    def __call__(self, x, initial_carry=None, return_carry=False):
        xw, proj = self._inputs(x)
        r, act = self.recurrent_kernel[...], self.activation
        h, c = self._carry(xw, initial_carry, 2)  # the spec's order (h, c)
        carry = (c, h)

        def cell(carry, xw_t):
            c, h = carry
            i, f, g, o = jnp.split(proj(xw_t) + h @ r, 4, axis=-1)
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * act(g)
            return c, jax.nn.sigmoid(o) * act(c)

        carry, out = run_cell(cell, carry, xw, self.sequences, self.reverse, self.unroll)
        return self._out(carry, out, return_carry)
""",
    needs=(RUN_CELL,),
)

GRU_LAYER = Snippet(
    "GRU",
    '''
class GRU(nnx.Module):
    """GRU layer, gates r, z, n fused: x [B, T, F] -> [B, T, U] (sequences) or the last h [B, U].
    Drawn like nnx.GRUCell (same keys)."""

    def __init__(self, features, units, *, kernel_init, recurrent_kernel_init=None,
                 activation=jax.nn.tanh, sequences=False, reverse=False, hoist=True, unroll=None,
                 rngs):
        recurrent_kernel_init = recurrent_kernel_init or nnx.initializers.orthogonal()
        self.units, self.activation, self.sequences = units, activation, sequences
        self.reverse, self.hoist, self.unroll = reverse, hoist, unroll
        self.kernel = nnx.Param(kernel_init(rngs.params(), (features, 3 * units)))
        rngs.params()  # the input bias (zeros): its key is drawn
        self.bias = nnx.Param(jnp.zeros((3 * units,)))
        self.recurrent_kernel = nnx.Param(recurrent_kernel_init(rngs.params(), (units, 3 * units)))
'''
    + _COMMON
    + """
    def carry_out(self, carry):
        return carry[0]

    def __call__(self, x, initial_carry=None, return_carry=False):
        xw, proj = self._inputs(x)
        r, act = self.recurrent_kernel[...], self.activation
        carry = self._carry(xw, initial_carry, 1)

        def cell(carry, xw_t):
            (h,) = carry
            x_r, x_z, x_n = jnp.split(proj(xw_t), 3, axis=-1)
            h_r, h_z, h_n = jnp.split(h @ r, 3, axis=-1)
            z = jax.nn.sigmoid(x_z + h_z)
            n = act(x_n + jax.nn.sigmoid(x_r + h_r) * h_n)
            return ((1.0 - z) * n + z * h,)

        carry, out = run_cell(cell, carry, xw, self.sequences, self.reverse, self.unroll)
        return self._out(carry, out, return_carry)
""",
    needs=(RUN_CELL,),
)

SIMPLE_RNN_LAYER = Snippet(
    "SimpleRNN",
    '''
class SimpleRNN(nnx.Module):
    """Elman layer: x [B, T, F] -> [B, T, U] (sequences) or the last h [B, U]. Drawn like
    nnx.SimpleCell (same keys)."""

    def __init__(self, features, units, *, kernel_init, recurrent_kernel_init=None,
                 activation=jax.nn.tanh, sequences=False, reverse=False, hoist=False, unroll=None,
                 rngs):
        recurrent_kernel_init = recurrent_kernel_init or nnx.initializers.orthogonal()
        self.units, self.activation, self.sequences = units, activation, sequences
        self.reverse, self.hoist, self.unroll = reverse, hoist, unroll
        self.recurrent_kernel = nnx.Param(recurrent_kernel_init(rngs.params(), (units, units)))
        self.kernel = nnx.Param(kernel_init(rngs.params(), (features, units)))
        rngs.params()  # the input bias (zeros): its key is drawn
        self.bias = nnx.Param(jnp.zeros((units,)))
'''
    + _COMMON
    + """
    def carry_out(self, carry):
        return carry[0]

    def __call__(self, x, initial_carry=None, return_carry=False):
        xw, proj = self._inputs(x)
        r, act = self.recurrent_kernel[...], self.activation
        carry = self._carry(xw, initial_carry, 1)

        def cell(carry, xw_t):
            return (act(proj(xw_t) + carry[0] @ r),)

        carry, out = run_cell(cell, carry, xw, self.sequences, self.reverse, self.unroll)
        return self._out(carry, out, return_carry)
""",
    needs=(RUN_CELL,),
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
