"""The learning curves of several runs in one PNG (`nncompile compare RUN RUN... -o curves.png`).

One panel per quantity (loss, then each metric, then the learning rate when recorded); each run one
colour, validation solid and training dashed, its best epoch marked with a dot on the validation
curve. Agg canvas, no pyplot (no display needed).
"""

from __future__ import annotations

from pathlib import Path

from .runindex import RunRow, epochs_of
from .safefiles import atomic_write


def quantities(histories: list[list[dict]]) -> list[str]:
    """The panels: every key recorded by some run (val_ folded into its training key), in order."""
    out: list[str] = []
    for epochs in histories:
        for e in epochs:
            for k in e:
                base = k[4:] if k.startswith("val_") else k
                if base not in ("epoch", "seconds") and base not in out:
                    out.append(base)
    return sorted(out, key=lambda k: (k != "loss", k == "lr"))


def plot_compare(path: str | Path, rows: list[RunRow], labels: list[str]) -> Path:
    """Write the PNG to `path`; returns it."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    histories = [epochs_of(r.path) for r in rows]
    keys = quantities(histories) or ["loss"]
    columns = min(3, len(keys))
    lines = -(-len(keys) // columns)
    fig = Figure(figsize=(5 * columns, 3.6 * lines + 0.4 * len(rows)), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(lines, columns, squeeze=False).ravel()
    for ax in axes[len(keys) :]:
        ax.set_visible(False)
    colours = [f"C{i % 10}" for i in range(len(rows))]
    for ax, key in zip(axes, keys, strict=False):
        for row, epochs, label, colour in zip(rows, histories, labels, colours, strict=True):
            xs = [e.get("epoch") for e in epochs]
            for name, style in ((f"val_{key}", "-"), (key, "--")):
                ys = [e.get(name) for e in epochs]
                if any(y is not None for y in ys):
                    part = "validation" if name.startswith("val_") else "train"
                    shown = f"{label} ({part})" if key != "lr" else label
                    ax.plot(xs, ys, style, color=colour, label=shown, linewidth=1.4)
            best = next((e for e in epochs if e.get("epoch") == row.best_epoch), None)
            if best is not None and best.get(f"val_{key}") is not None:
                ax.plot([row.best_epoch], [best[f"val_{key}"]], "o", color=colour)
        if key == "lr":
            ax.set_yscale("log")
        ax.set_title(key)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncols=2, fontsize="small")
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=100)
    path = Path(path)
    atomic_write(path, png.getvalue())
    return path
