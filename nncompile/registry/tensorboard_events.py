"""`track: tensorboard`: a fit's history as TensorBoard event files, written with the `tensorboard`
package's own event writer and protocol buffers (no TensorFlow, no PyTorch).

Per epoch (the step is the epoch number): a scalar for every history column (loss, metrics, val_*,
lr, seconds) under its own name, and with ``histograms=true`` a histogram of every parameter array
(``params/<layer>/<name>``). At the start: the model summary and the run's settings as text
(``summary``, ``settings``). The files are flushed at every epoch's end, so `tensorboard --logdir`
shows a run while it trains.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

BINS = 30  # histogram buckets


class TensorBoardTracker:
    """A training callback writing one run's event files (see the module docstring)."""

    def __init__(self, p: Any, context: Any):
        """``p``: tracking.TensorBoardArgs; ``context``: tracking.TrackContext."""
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        self.histograms = p.histograms
        self.dir = tensorboard_dir(p, context)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.writer = EventFileWriter(str(self.dir))
        self.context = context

    # ---- callback hooks --------------------------------------------------------------------------
    def on_fit_start(self, trainer: Any, history: Any) -> None:
        if trainer.epochs_done:  # resumed: TensorBoard drops what a killed run logged after this
            from tensorboard.compat.proto.event_pb2 import Event, SessionLog

            start = SessionLog(status=SessionLog.START)
            self.writer.add_event(
                Event(wall_time=time.time(), step=trainer.epochs_done + 1, session_log=start)
            )
        settings = "\n".join(f"    {k} = {v}" for k, v in self.context.params.items())
        step = trainer.epochs_done
        self._text("summary", "    " + self.context.summary.replace("\n", "\n    "), step)
        self._text("settings", settings, step)
        self.writer.flush()

    def reads_state(self, epoch: int) -> bool:
        """Parameter histograms read the model at every epoch end (no fused epochs:
        runtime.blocks)."""
        return bool(self.histograms)

    def on_epoch_end(self, trainer: Any, epoch: int, logs: dict) -> None:
        from tensorboard.compat.proto.summary_pb2 import Summary

        values = [
            Summary.Value(tag=k, simple_value=float(v))
            for k, v in logs.items()
            if k != "epoch" and isinstance(v, (int, float))
        ]
        if self.histograms:
            values += [
                Summary.Value(tag=f"params/{name}", histo=histogram(array))
                for name, array in parameters(trainer)
            ]
        self._write(Summary(value=values), epoch)
        self.writer.flush()

    def on_fit_end(self, trainer: Any, history: Any) -> None:
        self.writer.close()

    def failed(self) -> None:
        self.writer.close()

    def saved(self, run_dir) -> None:
        """The event files were written in the run folder already."""

    # ---- writing ---------------------------------------------------------------------------------
    def _write(self, summary, step: int) -> None:
        from tensorboard.compat.proto.event_pb2 import Event

        self.writer.add_event(Event(wall_time=time.time(), step=step, summary=summary))

    def _text(self, tag: str, text: str, step: int) -> None:
        from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
        from tensorboard.compat.proto.tensor_pb2 import TensorProto
        from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
        from tensorboard.compat.proto.types_pb2 import DT_STRING

        tensor = TensorProto(
            dtype=DT_STRING,
            string_val=[text.encode("utf-8")],
            tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=1)]),
        )
        metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="text"))
        self._write(Summary(value=[Summary.Value(tag=tag, metadata=metadata, tensor=tensor)]), step)


def tensorboard_dir(p: Any, context: Any) -> Path:
    """Where the event files go: ``dir=``, else the run folder's ``tensorboard/``, else (a fit
    without a run folder) ``runs/tensorboard/<spec>-<train>-<time>``, a new folder per fit (a
    ``-2``, ``-3`` ... after it when several start within one second, as a sweep's trials may)."""
    if p.dir is not None:
        return Path(p.dir)
    if context.folder is not None:
        return context.folder / "tensorboard"
    base = Path("runs") / "tensorboard" / f"{context.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    folder, n = base, 1
    while folder.exists():
        n += 1
        folder = base.with_name(f"{base.name}-{n}")
    return folder


def histogram(array: np.ndarray):
    """A TensorBoard HistogramProto of an array's values (BINS equal buckets)."""
    from tensorboard.compat.proto.summary_pb2 import HistogramProto

    values = np.asarray(array, dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        return HistogramProto()
    lo, hi = float(values.min()), float(values.max())
    counts, edges = np.histogram(values, bins=BINS, range=(lo, hi) if hi > lo else (lo, lo + 1))
    return HistogramProto(
        min=lo,
        max=hi,
        num=float(values.size),
        sum=float(values.sum()),
        sum_squares=float(np.dot(values, values)),
        bucket_limit=[float(e) for e in edges[1:]],
        bucket=[float(c) for c in counts],
    )


def parameters(trainer: Any) -> list[tuple[str, np.ndarray]]:
    """Every parameter array of the trainer's model(s), named by its path (``dense1/kernel``)."""
    import jax
    from flax import nnx

    state = nnx.state(trainer.model, nnx.Param)
    leaves = jax.tree_util.tree_flatten_with_path(state)[0]
    out = []
    for path, leaf in leaves:
        keys = [str(getattr(k, "key", getattr(k, "idx", getattr(k, "name", k)))) for k in path]
        keys = [k for k in keys if k != "value"]
        out.append(("/".join(keys), np.asarray(jax.device_get(leaf))))
    return out
