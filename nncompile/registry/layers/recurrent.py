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

One class, RecurrentLayer, holds what the three share (options, projection, initial carry, the
time loop); a kind draws its kernels and defines its cell. The GRU defines its own loop instead,
with a hand-written backward (jax.custom_vjp: the gates saved by the forward loop, one matmul a
step backwards, the weight gradients as one matmul over all steps after it): a W5-shaped GRU epoch
then costs 0.72-0.94x the CPU time of XLA's own backward (bench/rnn_torch.py, single-threaded,
bench/results/rnn_cpu.md; 0.93x in the quietest run). The LSTM's hand-written backward was slower
than XLA's (bench/results/cpu_all_refs.md section 4), the simple RNN's gained too little to keep.
"""

from __future__ import annotations

from ...expr import Snippet

RECURRENT_LAYER = Snippet(
    "RecurrentLayer",
    '''
class RecurrentLayer(nnx.Module):
    """What the recurrent layers share: their options, the inputs' projection, the initial carry
    and the time loop. A layer draws ``kernel`` [F, G], ``recurrent_kernel`` [U, G] and ``bias``
    [G] and defines ``cell(proj, r, act) -> step(carry, xw_t) -> carry`` (or its own ``loop``);
    the carry holds its ``states`` in the spec's order reversed (h last: an LSTM's (c, h))."""

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
        dtype = jnp.result_type(x.dtype, self.kernel.dtype)
        if initial_carry is None:
            carry = (jnp.zeros((x.shape[0], self.units), dtype),) * self.states
        else:
            given = initial_carry if isinstance(initial_carry, tuple) else (initial_carry,)
            carry = tuple(s.astype(dtype) for s in given[::-1])
        unroll = self.unroll
        if unroll is None:  # by backend (see ``options``)
            unroll = 1 if jax.default_backend() == "cpu" else 8
        carry, out = self.loop(x, carry, unroll)
        if not return_carry:
            return out
        return (carry[::-1] if self.states > 1 else carry[0]), out

    def loop(self, x, carry, unroll):
        """``cell``'s steps over x [B, T, F] from ``carry`` (XLA differentiates the loop):
        (the final carry, the outputs)."""
        k, b = self.kernel[...], self.bias[...]
        if self.hoist:  # every step's projection, time-major: [T, B, G]
            xs, proj = jnp.einsum("btf,fg->tbg", x, k) + b, lambda v: v
        else:  # the inputs, time-major [T, B, F]: each step projects its own
            xs, proj = jnp.swapaxes(x, 0, 1), lambda v: v @ k + b
        cell = self.cell(proj, self.recurrent_kernel[...], self.activation)
        sequences = self.sequences

        def step(carry, xw_t):
            carry = cell(carry, xw_t)
            return carry, (carry[-1] if sequences else None)

        carry, hs = jax.lax.scan(step, carry, xs, reverse=self.reverse, unroll=unroll)
        return carry, (jnp.swapaxes(hs, 0, 1) if sequences else carry[-1])
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

    def loop(self, x, carry, unroll):
        """The time loop with a hand-written backward (jax.custom_vjp): the forward loop keeps
        each step's gates; the backward loop does one matmul a step (dh R^T) and the weight
        gradients are one matmul over all steps after it (bench/results/rnn_cpu.md: 0.72-0.94x
        the CPU time of XLA's own backward of the loop on a W5 epoch)."""
        u, act, hoist = self.units, self.activation, self.hoist
        sequences, reverse = self.sequences, self.reverse
        tanh = act is jax.nn.tanh  # its derivative from its output: keep n, else its input
        k, b, r = self.kernel[...], self.bias[...], self.recurrent_kernel[...]
        primals = (k, b, r, jnp.swapaxes(x, 0, 1), carry[0])
        dtypes = [v.dtype for v in primals]  # of the gradients

        def forward(k, b, r, xs, h0):
            def step(h, x_t):
                xw, hr = (x_t if hoist else x_t @ k + b), h @ r
                rz = jax.nn.sigmoid(xw[:, : 2 * u] + hr[:, : 2 * u])
                a = xw[:, 2 * u :] + rz[:, :u] * hr[:, 2 * u :]
                n, z = act(a), rz[:, u:]
                h2 = (1.0 - z) * n + z * h
                return h2, (h2 if sequences else None, (rz, n if tanh else a, hr[:, 2 * u :], h))

            xw = jnp.einsum("tbf,fg->tbg", xs, k) + b if hoist else xs
            h, (hs, saved) = jax.lax.scan(step, h0, xw, reverse=reverse, unroll=unroll)
            return ((h, hs) if sequences else h), (k, r, xs, saved)

        def backward(res, g):
            k, r, xs, (rz, na, hn, hprev) = res
            dh, dys = g if sequences else (g, None)

            def step(dh, t):
                rz, na, hn, h, dy = t
                dh = dh if dy is None else dh + dy
                rr, z = rz[:, :u], rz[:, u:]
                if tanh:
                    n, da = na, dh * (1.0 - z) * (1.0 - na * na)
                else:
                    n, act_vjp = jax.vjp(act, na)
                    (da,) = act_vjp(dh * (1.0 - z))
                dr, dz = da * hn * rr * (1.0 - rr), dh * (h - n) * z * (1.0 - z)
                dhr = jnp.concatenate([dr, dz, da * rr], -1)
                return dh * z + dhr @ r.T, (dhr, da)

            t = (rz, na, hn, hprev, dys)
            dh0, (dhr, da) = jax.lax.scan(step, dh, t, reverse=not reverse, unroll=unroll)
            dxw = jnp.concatenate([dhr[..., : 2 * u], da], -1)
            grads = (
                jnp.einsum("tbf,tbg->fg", xs, dxw),
                dxw.sum((0, 1)),
                jnp.einsum("tbu,tbg->ug", hprev, dhr),
                jnp.einsum("tbg,fg->tbf", dxw, k),
                dh0,
            )
            return tuple(d.astype(t) for d, t in zip(grads, dtypes))

        run = jax.custom_vjp(lambda *a: forward(*a)[0])
        run.defvjp(forward, backward)
        out = run(*primals)
        h, hs = out if sequences else (out, None)
        return (h,), (jnp.swapaxes(hs, 0, 1) if sequences else h)
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
