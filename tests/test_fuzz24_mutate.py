"""The mutation fuzzer's seeds and check on its mutants (tests/spec_mutate.py; the nightly form with
training is bench/fuzz_mutate.py)."""

from __future__ import annotations

import itertools
import random

import pytest
import spec_mutate

import nncompile


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mutate")
    return folder, spec_mutate.workspace(folder)


def test_every_seed_passes_check(seeds):
    """A seed check refuses would make the fuzzer mutate only broken specs."""
    folder, texts = seeds
    assert {"pad", "windows", "class_weight", "states", "sweep"} <= set(texts)
    for name, text in texts.items():
        path = folder / f"{name}.nn"
        path.write_text(text)
        errors = [d for d in nncompile.check(path=str(path)) if d.severity == "error"]
        assert errors == [], (name, errors[0])


def test_mutants_get_diagnostics_inside_the_text(seeds):
    folder, texts = seeds
    stream = spec_mutate.mutants(texts, seed=24)
    kinds = set()
    for _ in range(60):
        name, text, done = next(stream)
        kinds.update(done)
        path = folder / "mut.nn"
        path.write_text(text)
        lines = text.count("\n") + 1
        for d in nncompile.check(path=str(path)):
            if d.span is not None and d.path == str(path):
                assert 1 <= d.span.line <= lines, (name, d)
    assert kinds == set(spec_mutate.MUTATIONS)


def test_mutations_are_reproducible(seeds):
    _, texts = seeds
    one = [t for _, t, _ in itertools.islice(spec_mutate.mutants(texts, 5), 20)]
    two = [t for _, t, _ in itertools.islice(spec_mutate.mutants(texts, 5), 20)]
    assert one == two and len(set(one)) > 10
    rng = random.Random(0)
    assert spec_mutate.add_property(rng, "data d {\n  pad: 3\n}\n").count("pad:") <= 1
