"""Hardening: the run folder's lock under Ctrl-C. A KeyboardInterrupt between `flock` and the
lock's bookkeeping left an open file holding the lock that nothing recorded, so the next save of
the same process found its folder "in use by PID ?" (the flaky kill test of
tests/hostile/test_runs.py). Acquiring is now whole or not at all."""

from __future__ import annotations

import os
import signal

import pytest

from nncompile.runtime.safefiles import LockFile


def interrupted_write(monkeypatch, how: str) -> None:
    """os.pwrite (the lock writing its PID, right after flock) interrupted once: by a real SIGINT
    ("signal") or by a KeyboardInterrupt raised there ("raise")."""
    real = os.pwrite

    def pwrite(fd, data, offset):
        monkeypatch.setattr(os, "pwrite", real)
        if how == "signal":
            os.kill(os.getpid(), signal.SIGINT)
        else:
            raise KeyboardInterrupt
        return real(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", pwrite)


@pytest.mark.parametrize("how", ["signal", "raise"])
def test_an_interrupted_acquire_leaves_the_lock_free(tmp_path, monkeypatch, how):
    path = tmp_path / ".run.lock"
    interrupted_write(monkeypatch, how)
    lock = LockFile(path)
    with pytest.raises(KeyboardInterrupt):
        lock.acquire(tmp_path / "run")
    assert not lock.held
    again = LockFile(path)  # before: LockError "... is in use by PID ?"
    again.acquire(tmp_path / "run")
    try:
        assert again.held and path.read_text() == f"{os.getpid()}\n"
    finally:
        again.release()
    assert not path.exists()


def test_a_ctrl_c_during_release_is_delivered_after_it(tmp_path, monkeypatch):
    path = tmp_path / ".run.lock"
    lock = LockFile(path)
    lock.acquire(tmp_path / "run")
    real = os.unlink

    def unlink(p, *args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)
        return real(p, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", unlink)
    with pytest.raises(KeyboardInterrupt):
        lock.release()
    monkeypatch.setattr(os, "unlink", real)
    assert not path.exists()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
