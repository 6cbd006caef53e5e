"""Ctrl-C in the middle of a fit, for the tests of checkpoints and resumes: a callback raising
KeyboardInterrupt at the end of an epoch, which the trainer handles as a user's Ctrl-C (it keeps
the last complete epoch, writes a run folder's checkpoint and returns a history marked
`interrupted`)."""

from __future__ import annotations


class StopAt:
    """Ctrl-C at the end of epoch `epoch`."""

    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_epoch_end(self, trainer, epoch, logs):
        if epoch == self.epoch:
            raise KeyboardInterrupt
