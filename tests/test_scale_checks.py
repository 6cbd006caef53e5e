"""The scale-out properties checked before anything runs: `devices:` vs `batch_size`, `accumulate`
vs the batches, scale-out in a GAN; the same rules at run time when the count is known only there;
the CONFIG keys appear only when set (single-device programs emit what they did)."""

from __future__ import annotations

from pathlib import Path

import pytest

import nncompile
from nncompile.errors import ConfigError
from nncompile.runconfig import RunConfig
from nncompile.runtime.devices import check_batch, select

ROOT = Path(__file__).resolve().parents[1]
MLP = (ROOT / "specs" / "digits_mlp.nn").read_text()


def with_props(text: str, props: str) -> str:
    return text.replace("  seed:       0\n}", f"  seed:       0\n{props}\n}}")


def one(text: str):
    diagnostics = nncompile.check(text=text)
    assert len(diagnostics) == 1, diagnostics
    return diagnostics[0]


def test_batch_size_must_divide_into_the_devices():
    d = one(with_props(MLP, "  devices: 3"))
    assert d.message == "batch_size 64 does not divide into 3 equal parts (`devices: 3`)"
    assert (
        d.hint
        == "use `batch_size: 63` or `batch_size: 66` (each of the 3 devices takes an equal part)"
    )
    assert d.span.line == MLP.splitlines().index("  batch_size: 64") + 1


def test_batch_size_smaller_than_the_devices():
    d = one(with_props(MLP.replace("batch_size: 64", "batch_size: 3"), "  devices: 8"))
    assert d.hint == "use `batch_size: 8` (each of the 8 devices takes an equal part)"


def test_divisible_batches_and_platforms_pass():
    assert (
        nncompile.check(text=with_props(MLP, "  devices: 4\n  shard: params\n  accumulate: 2"))
        == []
    )
    assert nncompile.check(text=with_props(MLP, "  devices: gpu")) == []


def test_logical_shards_split_over_the_devices_and_the_batch():
    d = one(with_props(MLP, "  devices: 4\n  logical_shards: 2"))
    assert d.message == "`logical_shards: 2` does not split over 4 devices (`devices: 4`)"
    assert d.hint == "use a multiple of 4, e.g. `logical_shards: 4`"
    d = one(with_props(MLP, "  logical_shards: 5"))
    assert d.message == "batch_size 64 does not divide into 5 equal shards (`logical_shards: 5`)"
    assert d.hint == "use a multiple of 5, e.g. `batch_size: 60`"
    assert nncompile.check(text=with_props(MLP, "  devices: 2\n  logical_shards: 8")) == []
    cfg = RunConfig.load(nncompile.compile(text=with_props(MLP, "  logical_shards: 8")).config)
    assert cfg.logical_shards == 8


def test_accumulate_needs_whole_groups():
    d = one(with_props(MLP, "  accumulate: 4\n  drop_remainder: false"))
    assert d.message == (
        "`accumulate: 4` updates once per 4 batches, so an epoch's last, smaller group cannot "
        "be kept (`drop_remainder: false`)"
    )
    d = one(with_props(MLP.replace("batch_size: 64", "batch_size: full"), "  accumulate: 2"))
    assert d.message.startswith("`accumulate` needs batches")


def test_gan_devices_split_the_batch_only():
    gan = (ROOT / "specs" / "digits_gan.nn").read_text()
    i = gan.rindex("}")
    with_line = lambda line: gan[:i] + f"  {line}\n" + gan[i:]
    assert nncompile.check(text=with_line("devices: 2")) == []
    d = one(with_line("devices: 3"))
    assert d.message == "batch_size 64 does not divide into 3 equal parts (`devices: 3`)"
    d = one(with_line("shard: params"))
    assert d.message == (
        "`shard: params` is for supervised training; an `objective: gan(...)` keeps its states "
        "whole (replicated) on every device"
    )
    d = one(with_line("accumulate: 2"))
    assert d.message == (
        "`accumulate: 2` is for supervised training; an `objective: gan(...)` updates both "
        "networks at every batch"
    )


def test_run_time_checks():
    with pytest.raises(ConfigError) as e:
        check_batch(100, 8, full=False)
    assert str(e.value) == (
        "batch_size 100 does not divide into 8 equal parts (8 devices)\n"
        "  hint: use `batch_size: 96` or `batch_size: 104` (each of the 8 devices takes an equal "
        "part)"
    )
    with pytest.raises(ConfigError, match="the full split \\(1257 examples\\)"):
        check_batch(1257, 2, full=True)
    with pytest.raises(ConfigError, match=r"`devices: 64`: JAX sees 1 device \(cpu\)"):
        select(64)
    with pytest.raises(ConfigError, match="JAX sees no tpu devices"):
        select("tpu")


def test_config_keys_only_when_set():
    program = nncompile.compile(text=MLP)
    assert not {"devices", "shard", "accumulate", "logical_shards"} & set(program.config)
    program = nncompile.compile(text=with_props(MLP, "  devices: 4\n  shard: params"))
    cfg = RunConfig.load(program.config)
    assert (cfg.devices, cfg.shard, cfg.accumulate) == (4, "params", 1)
    assert "accumulate" not in program.config
