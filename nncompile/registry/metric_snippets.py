"""The metrics' standalone forms: numpy functions on the host for an ejected train.py, computing
from a whole split what the accumulators of `registry.metrics` compute in chunks."""

from __future__ import annotations

from ..expr import Snippet

NP_CLASS_IDS = Snippet(
    "class_ids",
    '''
def class_ids(outputs, y):
    """Predicted and true class ids: one output unit is binary (> THRESHOLD), several are argmax."""
    if outputs.shape[-1] == 1:
        predicted = outputs[..., 0] > THRESHOLD
        y = y.reshape(outputs.shape[:-1])
        true = y > 0.5 if np.issubdtype(y.dtype, np.floating) else y != 0
    else:
        predicted = outputs.argmax(-1)
        true = y.argmax(-1) if y.shape == outputs.shape else y.reshape(outputs.shape[:-1])
    return predicted.reshape(-1).astype(np.int64), true.reshape(-1).astype(np.int64)
''',
)

NP_ACCURACY = Snippet(
    "accuracy",
    """
def accuracy(outputs, y):
    predicted, true = class_ids(outputs, y)
    return float(np.mean(predicted == true))
""",
    (NP_CLASS_IDS,),
)

NP_EXACT_MATCH = Snippet(
    "exact_match",
    """
def exact_match(outputs, y):
    predicted, true = class_ids(outputs, y)
    right = (predicted == true).reshape(len(outputs), -1)
    return float(np.mean(np.all(right, axis=-1)))
""",
    (NP_CLASS_IDS,),
)

NP_TOP_K = Snippet(
    "top_k",
    '''
def top_k(outputs, y, k):
    """The share of examples whose class is among the k highest outputs."""
    predicted, true = class_ids(outputs, y)
    if outputs.shape[-1] == 1:
        return 1.0 if k >= 2 else float(np.mean(predicted == true))
    best = np.argsort(-outputs.reshape(len(true), -1), axis=-1, kind="stable")[:, :k]
    return float(np.mean(np.any(best == true[:, None], axis=-1)))
''',
    (NP_CLASS_IDS,),
)

NP_PER_CLASS = Snippet(
    "per_class",
    '''
def per_class(outputs, y, score):
    """A per-class score from counts: the positive class's for two classes, else the macro mean over
    the classes that occur (like scikit-learn's average="binary" / "macro")."""
    predicted, true = class_ids(outputs, y)
    classes = max(outputs.shape[-1], 2)
    tp = np.bincount(true[predicted == true], minlength=classes).astype(np.float64)
    p = np.bincount(predicted, minlength=classes).astype(np.float64)
    a = np.bincount(true, minlength=classes).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = np.nan_to_num(score(tp, p, a), nan=0.0)
    if classes <= 2:
        return float(values[1])
    present = (p + a) > 0
    return float(values[present].mean()) if present.any() else 0.0
''',
    (NP_CLASS_IDS,),
)

NP_ERRORS = Snippet(
    "errors",
    """
def errors(outputs, y):
    # prediction minus target, on what predict returns (OUTPUT_ACTIVATION applied to logits)
    outputs = np.asarray(outputs, np.float64)
    if OUTPUT_ACTIVATION == "sigmoid":
        outputs = 1 / (1 + np.exp(-outputs))
    elif OUTPUT_ACTIVATION == "softmax":
        e = np.exp(outputs - outputs.max(-1, keepdims=True))
        outputs = e / e.sum(-1, keepdims=True)
    # times TARGET_SCALE (per target, over y's last axis): errors in the targets' own units
    return ((outputs - y.reshape(outputs.shape)).reshape(y.shape) * TARGET_SCALE).reshape(-1)
""",
)
