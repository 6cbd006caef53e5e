"""The Keras-parity conditional GAN (bench/specs/parity/cgan.nn against keras_parity_models.cgan,
its custom JAX train_step) in CPU time: one side per process, per-epoch process CPU and wall ms
between epoch-end callbacks, the median over epochs 2..N (a median: nncompile's first sample grid
compiles inside one epoch). Prints one JSON line.

    KERAS_BACKEND=jax PYTHONPATH=$PWD /work/benchvenv/bin/python bench/cgan_cpu.py keras [EPOCHS]
    KERAS_BACKEND=jax PYTHONPATH=$PWD /work/benchvenv/bin/python bench/cgan_cpu.py nncompile
    # one thread, one core: CPU time = work
    XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" taskset -c 0 ...

Results: bench/results/gan6.md section 3.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

import nncompile

HERE = Path(__file__).resolve().parent


def main() -> None:
    side = sys.argv[1]
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    program = nncompile.compile(HERE / "specs" / "parity" / "cgan.nn", train="gan")
    splits = dict(program.load_data().splits.items())
    marks: list[tuple[float, float]] = []
    if side == "keras":
        sys.path.insert(0, str(HERE))
        import keras
        import keras_parity_models as K

        class Times(K.EpochTimes):
            def on_epoch_end(self, epoch, logs=None):
                super().on_epoch_end(epoch, logs)
                marks.append((time.perf_counter(), time.process_time()))

        K.EpochTimes = Times
        fit = keras.Model.fit

        def fewer_epochs(self, *args, **kwargs):
            kwargs["epochs"] = epochs
            return fit(self, *args, **kwargs)

        keras.Model.fit = fewer_epochs
        K.cgan(splits, 0)
    else:

        class Clock:
            def on_epoch_end(self, trainer, epoch, logs):
                marks.append((time.perf_counter(), time.process_time()))

        program.fit(epochs=epochs, callbacks=[Clock()], verbose=False)
    cpu = np.diff([c for _, c in marks]) * 1e3
    wall = np.diff([w for w, _ in marks]) * 1e3
    print(
        json.dumps(
            {
                "side": side,
                "cpu_med_ms": float(np.median(cpu)),
                "cpu_min_ms": float(cpu.min()),
                "wall_med_ms": float(np.median(wall)),
                "cpu_mean_ms": float(cpu.mean()),
            }
        )
    )


if __name__ == "__main__":
    main()
