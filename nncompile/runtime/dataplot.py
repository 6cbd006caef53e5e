"""The picture of `nncompile data`: one PNG of a DataReport (runtime.datareport).

Panels, as the data has them: class counts per split (or the target's histogram per split); a grid
of train examples with their classes for images; a few windows for series; a few decoded windows
for text; histograms of the first features, train vs val vs test overlaid (a shift between splits
shows as curves that differ). Agg canvas, no pyplot.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from .datareport import DataReport, flat
from .safefiles import atomic_write

HISTOGRAMS = 12  # features drawn as histograms (shared between several inputs)
GRID = (4, 8)  # rows x columns of the image sample grid
SEQUENCES = 4  # windows drawn for series, decoded for text
COLORS = {"train": "tab:blue", "val": "tab:orange", "test": "tab:green"}


def plot_report(report: DataReport, path: str | Path) -> Path:
    """Draw `report` as a PNG at `path` (written atomically)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = _panels(report)
    columns = min(4, len(panels))
    rows = -(-sum(w for w, _ in panels) // columns)
    fig = Figure(figsize=(4.2 * columns, 3.3 * rows), layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(rows, columns)
    at = 0
    for width, draw in panels:
        if at % columns + width > columns:  # a wide panel starts a new row
            at += columns - at % columns
        r, c = divmod(at, columns)
        draw(fig.add_subplot(grid[r, c : c + width]))
        at += width
    fig.suptitle(f"data {report.name}: {report.task}, " + _rows(report))
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=90)
    out = Path(path)
    atomic_write(out, png.getvalue())
    return out


def _rows(report: DataReport) -> str:
    return ", ".join(f"{k} {len(i)}" for k, i in report.index.items()) + " rows"


def _panels(report: DataReport) -> list:
    """(width in columns, draw(ax)) for each panel the data has."""
    panels: list = []
    for k, y in report.y.items():
        counts = report.summary["classes"].get(k)
        if counts is not None:
            panels.append(
                (2 if len(next(iter(counts.values()))) > 12 else 1, _bars(k, counts, report.task))
            )
        elif np.issubdtype(y.dtype, np.floating):
            panels.append((1, _histogram(report, y, f"target {k}", 0, series=y.ndim > 2)))
    x = next(iter(report.x.values()))
    if report.image_shape is not None:
        panels.append((2, _images(report, x)))
    elif report.vocab is not None and np.issubdtype(x.dtype, np.integer) and x.ndim == 2:
        panels.append((2, _text(report, x)))
    elif x.ndim >= 3 and np.issubdtype(x.dtype, np.floating):
        panels.append((2, _sequences(report, x)))
    for k, a in report.x.items():
        if np.issubdtype(a.dtype, np.integer):
            continue
        series = a.ndim > 2 and report.image_shape is None
        names = report.feature_names.get(k) or _pixels(report.image_shape)
        count = flat(a[:1], series).shape[1]
        for i in _chosen(a, series, count, max(1, HISTOGRAMS // len(report.x))):
            label = names[i] if i < len(names) else f"feature {i}"
            title = label if len(report.x) == 1 else f"{k}: {label}"
            panels.append((1, _histogram(report, a, title, i, series)))
    return panels or [(1, lambda ax: ax.set_title("no arrays to draw"))]


def _chosen(a: np.ndarray, series: bool, count: int, most: int) -> list[int]:
    """The features drawn: all when at most `most`, else the `most` with the largest spread (a
    grid of pixels has many near-constant ones)."""
    if count <= most:
        return list(range(count))
    with np.errstate(all="ignore"):
        v = flat(a, series)
        spread = np.nan_to_num(np.nanstd(np.where(np.isfinite(v), v, np.nan), 0), nan=-1.0)
    return sorted(np.argsort(-spread, kind="stable")[:most].tolist())


# ---- panels --------------------------------------------------------------------------------------
def _bars(name: str, counts: dict, report_task: str):
    def draw(ax):
        splits = list(counts)
        labels = list(counts[splits[0]])
        bottom = np.zeros(len(labels))
        for s in splits:
            n = np.array([counts[s][c] for c in labels], float)
            ax.bar(range(len(labels)), n, bottom=bottom, label=s, color=COLORS.get(s))
            bottom += n
        ax.set_xticks(
            range(len(labels)), labels, fontsize="small", rotation=90 * (len(labels) > 12)
        )
        what = "target tokens" if report_task == "sequence" else "class counts"
        ax.set_title(what if name == "y" else f"{what}: {name}")
        ax.set_ylabel("tokens" if report_task == "sequence" else "rows")
        ax.legend(fontsize="small")

    return draw


def _histogram(report: DataReport, a: np.ndarray, title: str, feature: int, series: bool):
    def draw(ax):
        values = {s: flat(a[i], series)[:, feature] for s, i in report.index.items() if len(i)}
        finite = np.concatenate([v[np.isfinite(v)] for v in values.values()])
        if not finite.size:
            ax.set_title(f"{title}: no finite values")
            return
        lo, hi = float(finite.min()), float(finite.max())
        bins = np.linspace(lo, hi if hi > lo else lo + 1, 21)
        for s, v in values.items():
            ax.hist(
                v[np.isfinite(v)],
                bins=bins,
                histtype="step",
                density=True,
                label=s,
                color=COLORS.get(s),
                linewidth=1.5,
            )
        missing = sum(int((~np.isfinite(v)).sum()) for v in values.values())
        ax.set_title(title + (f" ({missing} missing)" if missing else ""), fontsize="medium")
        ax.legend(fontsize="x-small")
        ax.set_yticks([])

    return draw


def _images(report: DataReport, x: np.ndarray):
    shape = report.image_shape
    assert shape is not None
    train = report.index["train"]
    rows, cols = GRID
    pick = train[: rows * cols]
    y = report.y.get("y")

    def draw(ax):
        images = x[pick].reshape(len(pick), *shape).astype(np.float64)
        gray = images.mean(-1) if images.ndim == 4 and shape[-1] not in (3,) else images
        h, w = gray.shape[1:3]
        top = max(2, h // 3)  # a band above each image for its class
        canvas = np.full(((h + top) * rows, (w + 1) * cols, *gray.shape[3:]), np.nan)
        for n, image in enumerate(gray):
            r, c = divmod(n, cols)
            y0 = r * (h + top) + top
            canvas[y0 : y0 + h, c * (w + 1) : c * (w + 1) + w] = image
            if y is not None and y.ndim == 1:
                ax.text(
                    c * (w + 1) + w / 2 - 0.5,
                    y0 - top / 2 - 0.5,
                    _label(report, int(y[pick[n]])),
                    color="tab:red",
                    fontsize="small",
                    ha="center",
                    va="center",
                )
        if canvas.ndim == 3:  # colour images to [0, 1]
            lo, hi = np.nanmin(canvas), np.nanmax(canvas)
            canvas = np.nan_to_num((canvas - lo) / max(hi - lo, 1e-12), nan=1.0)
        ax.imshow(canvas, cmap="gray_r", interpolation="nearest")
        ax.set_axis_off()
        ax.set_title(f"train examples ({' x '.join(map(str, shape))}) with their class")

    return draw


def _sequences(report: DataReport, x: np.ndarray):
    train = report.index["train"]
    pick = train[np.linspace(0, len(train) - 1, min(SEQUENCES, len(train))).astype(int)]
    y = report.y.get("y")

    def draw(ax):
        steps = np.arange(x.shape[1])
        for i in pick:
            line = ax.plot(steps, x[i].reshape(x.shape[1], -1)[:, 0], label=f"window {i}")[0]
            if y is not None and y.ndim == 2 and y.shape[1] == 1:  # the value `horizon` later
                ax.plot([steps[-1] + 1], [y[i, 0]], "o", color=line.get_color())
            elif y is not None and y.ndim >= 2:
                ax.plot(steps, y[i].reshape(x.shape[1], -1)[:, 0], ":", color=line.get_color())
        ax.set_title("train windows (feature 0; target: dot or dotted)")
        ax.set_xlabel("step")
        ax.legend(fontsize="x-small")

    return draw


def _text(report: DataReport, x: np.ndarray):
    vocab = report.vocab or ()
    y = report.y.get("y")
    train = report.index["train"]
    pick = train[np.linspace(0, len(train) - 1, min(SEQUENCES, len(train))).astype(int)]

    def draw(ax):
        ax.set_axis_off()
        glue = "" if all(len(t) == 1 for t in vocab) else " "
        decode = lambda ids: glue.join(vocab[t] if 0 <= t < len(vocab) else "?" for t in ids)
        for n, i in enumerate(pick):
            text = decode(x[i].tolist())
            if y is not None and y.ndim == 2 and np.issubdtype(y.dtype, np.integer):
                text += " \u2192 " + decode(y[i].tolist())  # the targets, one per step
            text = text.replace("\n", "\u00b6")
            ax.text(
                0,
                1 - (n + 0.5) / SEQUENCES,
                _wrap(text),
                family="monospace",
                fontsize="small",
                va="center",
                transform=ax.transAxes,
            )
        ax.set_title("train examples, decoded" + (" (\u2192 targets)" if y is not None else ""))

    return draw


def _wrap(text: str, width: int = 70) -> str:
    return "\n".join(text[i : i + width] for i in range(0, min(len(text), 3 * width), width))


def _pixels(shape: tuple[int, ...] | None) -> list[str]:
    """Feature names of flat images: 'pixel (row, column)' (and channel)."""
    if shape is None:
        return []
    return [
        f"pixel {tuple(int(i) for i in np.unravel_index(f, shape))}"
        for f in range(int(np.prod(shape)))
    ]


def _label(report: DataReport, c: int) -> str:
    labels = report.labels
    return str(labels[c]) if labels is not None and c < len(labels) else str(c)
