'''Fixed helper code the emitted module includes when it needs it (no user text inside).'''

SNIPPETS: dict[str, str] = {}

SNIPPETS["symmetric_uniform"] = '''
def symmetric_uniform(scale):
    """Initializer: uniform in [-scale, scale]."""
    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -scale, scale)
    return init
'''

SNIPPETS["squash"] = '''
def squash(v, axis=-1):
    """Capsule non-linearity: keeps the direction, maps the length into [0, 1)."""
    norm2 = jnp.sum(v ** 2, axis=axis, keepdims=True)
    return norm2 / (1.0 + norm2) * v / jnp.sqrt(norm2 + 1e-9)
'''

SNIPPETS["PrimaryCapsules"] = '''
class PrimaryCapsules(nnx.Module):
    """A convolution whose channels are regrouped into `capsules` vectors of length `dim`."""

    def __init__(self, in_features, capsules, dim, *, kernel_size, strides, padding, rngs):
        self.dim = dim
        self.conv = nnx.Conv(in_features, capsules * dim, kernel_size=kernel_size, strides=strides,
                             padding=padding, kernel_init=KERNEL_INIT, conv_general_dilated=im2col_conv, rngs=rngs)

    def __call__(self, x):
        u = self.conv(x)
        return squash(u.reshape(u.shape[0], -1, self.dim))
'''

SNIPPETS["CapsuleLayer"] = '''
class CapsuleLayer(nnx.Module):
    """Capsules with dynamic routing by agreement (Sabour et al., 2017)."""

    def __init__(self, in_capsules, in_dim, count, dim, *, routing, rngs):
        self.routing = routing
        self.weight = nnx.Param(nnx.initializers.normal(0.05)(rngs.params(), (in_capsules, count, dim, in_dim)))

    def __call__(self, u):
        u_hat = jnp.einsum("ijdk,bik->bijd", self.weight[...], u)  # predictions of each input capsule
        logits = jnp.zeros(u_hat.shape[:3])
        for i in range(self.routing):
            c = jax.nn.softmax(logits, axis=2)
            v = squash(jnp.einsum("bij,bijd->bjd", c, u_hat))
            if i + 1 < self.routing:
                logits = logits + jnp.einsum("bijd,bjd->bij", jax.lax.stop_gradient(u_hat), v)
        return v
'''

SNIPPETS["kernel_penalty"] = '''
def kernel_penalty(model, power):
    """Sum of |w|**power over the weight matrices and filters (biases are not penalised)."""
    kernels = jax.tree.leaves(nnx.state(model, nnx.All(nnx.Param, nnx.PathContains("kernel"))))
    return sum(jnp.sum(jnp.abs(w) ** power) for w in kernels)
'''

SNIPPETS["margin_loss"] = '''
def margin_loss(lengths, labels, m_plus, m_minus, down_weight):
    """Capsule margin loss: present classes need long capsules, absent ones short."""
    present = jax.nn.one_hot(labels, lengths.shape[-1]) if labels.ndim == 1 else labels
    loss = present * jax.nn.relu(m_plus - lengths) ** 2 + down_weight * (1 - present) * jax.nn.relu(lengths - m_minus) ** 2
    return loss.sum(axis=-1)
'''

SNIPPETS["random_flip"] = '''
def random_flip(key, x, horizontal, vertical):
    """Mirror each image with probability 1/2 along the chosen axes."""
    kh, kv = jax.random.split(key)
    if horizontal:
        x = jnp.where(jax.random.bernoulli(kh, 0.5, (x.shape[0], 1, 1, 1)), x[:, :, ::-1], x)
    if vertical:
        x = jnp.where(jax.random.bernoulli(kv, 0.5, (x.shape[0], 1, 1, 1)), x[:, ::-1], x)
    return x
'''

SNIPPETS["random_shift"] = '''
def random_shift(key, x, pixels):
    """Translate each image by up to `pixels` in each direction, filling with zeros."""
    h, w = x.shape[1], x.shape[2]
    padded = jnp.pad(x, ((0, 0), (pixels, pixels), (pixels, pixels), (0, 0)))
    offsets = jax.random.randint(key, (x.shape[0], 2), 0, 2 * pixels + 1)
    crop = lambda img, o: jax.lax.dynamic_slice(img, (o[0], o[1], 0), (h, w, img.shape[-1]))
    return jax.vmap(crop)(padded, offsets)
'''

SNIPPETS["random_rotate"] = '''
def random_rotate(key, x, degrees):
    """Rotate each image about its centre by an angle drawn from [-degrees, degrees]."""
    h, w = x.shape[1], x.shape[2]
    angles = jax.random.uniform(key, (x.shape[0],), minval=-degrees, maxval=degrees) * jnp.pi / 180
    rows, cols = jnp.meshgrid(jnp.arange(h) - (h - 1) / 2, jnp.arange(w) - (w - 1) / 2, indexing="ij")

    def rotate(img, a):
        src_r = jnp.cos(a) * rows - jnp.sin(a) * cols + (h - 1) / 2
        src_c = jnp.sin(a) * rows + jnp.cos(a) * cols + (w - 1) / 2
        sample = lambda ch: jax.scipy.ndimage.map_coordinates(ch, [src_r, src_c], order=1, mode="constant")
        return jax.vmap(sample, in_axes=-1, out_axes=-1)(img)
    return jax.vmap(rotate)(x, angles)
'''

SNIPPETS["gaussian_noise"] = '''
def gaussian_noise(key, x, stddev):
    """Add normal noise with the given standard deviation."""
    return x + stddev * jax.random.normal(key, x.shape, x.dtype)
'''

SNIPPETS["im2col_conv"] = '''
def im2col_conv(x, kernel, window_strides, padding, *, lhs_dilation=None, rhs_dilation=None,
                dimension_numbers=None, feature_group_count=1, precision=None, **kwargs):
    """The convolution of nnx.Conv (channels last, kernel HWIO), chosen by backend when traced.

    On CPU it is written as im2col: pad, put the kernel-offset views of the input side by side on the
    channel axis and do one matmul with the kernel reshaped to (taps * in, out). XLA:CPU runs that
    faster than its native convolution, and, unlike it, just as fast inside lax.scan (whose
    convolution gradients it leaves unoptimised). Elsewhere (GPU, TPU): jax.lax.conv_general_dilated.
    """
    dims = kernel.ndim - 2
    lhs_dilation = tuple(lhs_dilation or (1,) * dims)
    rhs_dilation = tuple(rhs_dilation or (1,) * dims)
    if jax.default_backend() != "cpu" or feature_group_count != 1 or set(lhs_dilation) != {1}:
        return jax.lax.conv_general_dilated(x, kernel, window_strides, padding, lhs_dilation=lhs_dilation,
                                            rhs_dilation=rhs_dilation, dimension_numbers=dimension_numbers,
                                            feature_group_count=feature_group_count, precision=precision, **kwargs)
    taps = kernel.shape[:dims]
    reach = [(k - 1) * d + 1 for k, d in zip(taps, rhs_dilation)]
    if isinstance(padding, str):
        padding = jax.lax.padtype_to_pads(x.shape[1:-1], reach, window_strides, padding)
    x = jnp.pad(x, [(0, 0), *padding, (0, 0)])
    out = [(n - r) // s + 1 for n, r, s in zip(x.shape[1:-1], reach, window_strides)]
    offsets = [()]
    for k in taps:
        offsets = [o + (i,) for o in offsets for i in range(k)]
    views = []
    for offset in offsets:  # the same order as the kernel's (taps..., in) rows
        start = [i * d for i, d in zip(offset, rhs_dilation)]
        stop = [b + (n - 1) * s + 1 for b, n, s in zip(start, out, window_strides)]
        views.append(jax.lax.slice(x, (0, *start, 0), (x.shape[0], *stop, x.shape[-1]), (1, *window_strides, 1)))
    patches = views[0] if len(views) == 1 else jnp.concatenate(views, axis=-1)
    y = jnp.matmul(patches.reshape(-1, patches.shape[-1]), kernel.reshape(-1, kernel.shape[-1]), precision=precision,
                   preferred_element_type=kwargs.get("preferred_element_type"))
    return y.reshape(*patches.shape[:-1], kernel.shape[-1])
'''
