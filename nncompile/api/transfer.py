"""Transfer learning for a Program: `init: checkpoint(run, layers=[...])` loads layers of another
run's parameters into the trainer before training."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..diagnostics import CompileError

if TYPE_CHECKING:
    from ..runconfig import RunConfig


class Transfer:
    """The Program's transfer-learning methods (mixed into api.Program)."""

    trainer: Any
    spec: Any
    train_block: Any
    if TYPE_CHECKING:  # what Program defines

        @property
        def run_config(self) -> RunConfig: ...

        def _need_trainer(self) -> None: ...

    # ---- transfer learning -----------------------------------------------------------------------
    def init_run(self) -> Path | None:
        """The run folder of ``init: checkpoint("...")``: relative to the working directory, like
        the ``runs/<spec>-<train>`` folders that ``train`` writes by default."""
        init = self.run_config.init
        return None if init is None else Path(init.run)

    def load_init(self) -> list[str]:
        """Load ``init: checkpoint(run, layers=[...])`` into the trainer (problems: E505 errors)."""
        from ..runtime.transfer import TransferError, load_layers

        self._need_trainer()
        run = self._check_init_run()
        cfg = self.run_config
        assert cfg.init is not None
        layers = list(cfg.init.layers) if cfg.init.layers is not None else None
        try:
            found = load_layers(self.trainer.model, run, layers, here=f"model {cfg.model}")
        except TransferError as e:
            raise self._transfer_error(e.problems) from None
        self.trainer.load_state({"model": found.state})
        if found.skipped:
            self.trainer.log(
                f"init: not loaded from {run} (no layer of that name and shape there): "
                f"{', '.join(found.skipped)}"
            )
        self.trainer.log(f"init: loaded {', '.join(found.loaded) or 'nothing'} from {run}")
        return found.loaded

    def _check_init_run(self) -> Path:
        from ..runtime.transfer import missing_init_run

        run = self.init_run()
        assert run is not None
        if problems := missing_init_run(run, self.spec.source.path):
            raise self._transfer_error(problems)
        return run

    def _transfer_error(self, problems) -> CompileError:
        from ..diagnostics import TRANSFER, Diagnostic
        from ..source import NOWHERE

        span = self.train_block.property_spans.get("init", NOWHERE)
        source = self.spec.source
        found = [Diagnostic(TRANSFER, m, span, hint, source.path) for m, hint in problems]
        return CompileError(found, source)
