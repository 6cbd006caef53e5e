"""Measured choices (runtime.autotune): `nncompile tune FILE` measures every candidate strategy of a
train block now, and `nncompile plan FILE` shows what the record says (`tuning_lines`)."""

from __future__ import annotations

import sys
import textwrap

from .common import SPEC, compiled_program


def cmd_tune(args) -> int:
    """time the candidate strategies of a train block and record the fastest for later runs

    Every candidate (an epoch as one compiled loop, one call per step, and for convolutional
    programs XLA's native convolution against im2col) is compiled and timed for a few steps on
    this machine, without the budget a first `train` keeps to; the winner is recorded next to the
    compilation cache, and later runs of the program (any number of epochs, seed or learning rate)
    train with it when autotune is on (NNCOMPILE_AUTOTUNE=1)."""
    from ..runtime import autotune
    from ..runtime.tunerecord import enabled, record_path

    program = compiled_program(args)
    if program.is_gan:
        print("rule: adversarial programs have one strategy (no candidates to measure)")
        return 0
    trainer = program.trainer_for(program.splits(), epochs=1, log=lambda line: None)
    if (why := autotune.skip_reason(trainer, asked=True)) is not None:
        print(f"rule: {why} (nothing to measure)")
        return 0
    entry = autotune.measure_now(trainer)
    print(f"{entry['choice']}  (rule: {entry['rule']}; measured in {entry['seconds']:.1f} s)")
    for name, t in entry["timings"].items():
        step = f"{t['step_ms']:8.3f} ms/step  compiled in {t['compile_s']:.2f} s"
        print(f"  {name:20} {step if 'step_ms' in t else t.get('skipped', '')}")
    print(f"recorded in {record_path()}", file=sys.stderr)
    if not enabled():
        print("autotune is off: NNCOMPILE_AUTOTUNE=1 makes `train` use the record", file=sys.stderr)
    return 0


def tuning_lines(program, train_name: str | None) -> str:
    """`nncompile plan`: the recorded measurements of this train block's program (any machine),
    else the rule and why."""
    from ..codegen.emit import emit_program
    from ..runtime.identity import program_identity
    from ..runtime.tunerecord import describe, enabled, fingerprint, record_path, recorded_for
    from ..semantics.ir import select_train

    train = select_train(program, train_name)
    if train.model is None:
        return _line("rule: adversarial programs have one strategy")
    if train.props.strategy != "auto":
        return _line(f"rule: the train block pins `strategy: {train.props.strategy}`")
    entries = recorded_for(fingerprint(program_identity(emit_program(program, train_name))))
    if not entries:
        state = "on" if enabled() else "off (NNCOMPILE_AUTOTUNE=1 turns it on)"
        return _line(
            f"rule: not measured on this machine (autotune {state}; `nncompile tune FILE` measures "
            f"now; record: {record_path()})"
        )
    return "".join(_line(describe(e)) for e in entries)


def _line(text: str) -> str:
    label = "  autotune:           "
    lines = textwrap.wrap(text, 100, initial_indent=label, subsequent_indent=" " * 22)
    return "\n".join(lines) + "\n"


COMMANDS = {"tune": (cmd_tune, (*SPEC, "cache"))}
