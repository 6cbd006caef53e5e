"""`nncompile.check` takes its spec the way `nncompile.compile` does: a path, or text=."""

from pathlib import Path

import pytest

import nncompile

BROKEN = """
data d { source: sklearn("iris") }
let width = 8
model M { input x: [4]  dense(width, activation=relu)  dense(3, activation=sofmax) }
train { model: M  data: d  loss: categorical_crossentropy }
"""
BAD_WIDTH = BROKEN.replace("sofmax", "softmax")


def test_a_path_is_read_like_compile_reads_it(tmp_path):
    spec = tmp_path / "spec.nn"
    spec.write_text(BROKEN)
    by_path = nncompile.check(str(spec))
    assert [(d.code, d.span.line) for d in by_path] == [("E200", 4)]
    assert "did you mean 'softmax'" in (by_path[0].hint or "")
    assert nncompile.check(spec) == by_path  # a Path too
    assert nncompile.check(path=spec) == by_path  # the keyword of earlier versions
    with pytest.raises(nncompile.CompileError) as e:
        nncompile.compile(spec)
    assert e.value.diagnostics == by_path


def test_text_is_given_as_text_in_both(tmp_path):
    from_text = nncompile.check(text=BROKEN, path="spec.nn")
    assert [(d.code, d.path) for d in from_text] == [("E200", "spec.nn")]
    with pytest.raises(nncompile.CompileError) as e:
        nncompile.compile(text=BROKEN, path="spec.nn")
    assert e.value.diagnostics == from_text


@pytest.mark.parametrize("function", [nncompile.check, nncompile.compile])
def test_spec_text_as_a_path_is_a_clear_type_error(function):
    with pytest.raises(TypeError) as e:
        function(BROKEN)
    name = function.__name__
    assert str(e.value) == (
        f"{name}() reads its first argument as a file path; "
        f"pass the spec itself as {name}(text=...)"
    )


def test_a_missing_file_is_a_diagnostic_not_an_exception(tmp_path):
    missing = tmp_path / "nope.nn"
    (d,) = nncompile.check(missing)
    assert d.message == f"no such file: '{missing}'"


def test_sets_are_checked_like_compile_applies_them():
    assert nncompile.check(text=BAD_WIDTH) == []
    (d,) = nncompile.check(text=BAD_WIDTH, sets={"width": 0})
    assert d.severity == "error"
    with pytest.raises(nncompile.CompileError) as e:
        nncompile.compile(text=BAD_WIDTH, sets={"width": 0})
    assert e.value.diagnostics == [d]


def test_both_or_neither_is_refused(tmp_path):
    with pytest.raises(TypeError, match="not both"):
        nncompile.check(Path("a.nn"), text=BROKEN)
    with pytest.raises(TypeError, match=r"compile\(\) takes a spec path or text="):
        nncompile.compile()
