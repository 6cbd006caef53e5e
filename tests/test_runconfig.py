"""Run configuration: one typed, versioned CONFIG; its defaults the language's; every key read."""

import ast
import re
from pathlib import Path

import pytest

from nncompile import runconfig as R
from nncompile.errors import ConfigError
from nncompile.semantics import schema as S

ROOT = Path(__file__).resolve().parents[1]


# ---- defaults in one place: the language's -------------------------------------------------------
@pytest.mark.parametrize(
    "ours, language, fields",
    [
        (
            R.RunConfig,
            S.TrainProps,
            ["batch_size", "epochs", "seed", "drop_remainder", "precision"],
        ),
        (R.EarlyStopping, S.EarlyStopping, ["monitor", "patience", "min_delta", "restore_best"]),
        (R.Checkpoint, S.Checkpoint, ["every", "keep"]),
        (R.Samples, S.Samples, ["every", "count"]),
        (R.Windows, S.Windows, ["horizon", "targets"]),
        (
            R.Data,
            S.DataProps,
            ["split", "normalize", "normalize_target", "one_hot", "shuffle", "subset"],
        ),
    ],
)
def test_defaults_are_the_languages(ours, language, fields):
    for name in fields:
        assert ours.model_fields[name].default == language.model_fields[name].default, name


# ---- versions ------------------------------------------------------------------------------------
@pytest.mark.parametrize("config, message", [({}, "no 'version'"), ({"version": 99}, "version 99")])
def test_an_unknown_version_is_a_clear_error(config, message):
    with pytest.raises(ConfigError, match=message) as e:
        R.RunConfig.model_validate(config)
    assert "regenerate" in (e.value.hint or "")


def test_bad_keys_and_values_are_config_errors():
    with pytest.raises(ConfigError, match="strategy"):
        R.RunConfig.load({"version": R.VERSION}, strategy="fast")
    with pytest.raises(ConfigError, match="num_classes"):
        R.RunConfig.load({"version": R.VERSION, "num_classes": 10})
    gan = {"version": R.VERSION, "kind": "gan", "gan": {"example_shape": [4]}}
    with pytest.raises(ConfigError, match="not read for GANs"):
        R.RunConfig.load(gan, early_stopping={"patience": 2})


def test_dump_round_trips_and_leaves_the_other_kinds_fields_out():
    config = R.RunConfig.load({"version": R.VERSION, "metrics": [{"name": "top_k", "k": 3}]})
    assert R.RunConfig.load(config.dump()) == config
    assert config.metrics[0].arguments == {"k": 3}
    gan = R.RunConfig.load(
        {"version": R.VERSION, "kind": "gan", "epochs": 20, "gan": {"example_shape": [4]}}
    )
    assert not R.SUPERVISED_ONLY & set(gan.dump()) and R.RunConfig.load(gan.dump()) == gan
    assert gan.samples() == R.Samples(every=4, count=64)


# ---- every emitted CONFIG validates --------------------------------------------------------------
def _emitted() -> list:
    from nncompile.compiler import load_spec

    return [
        pytest.param(spec, train, id=f"{spec.stem}-{train}")
        for spec in sorted((ROOT / "specs").glob("*.nn"))
        for train in load_spec(spec).trains
    ]


@pytest.mark.parametrize("spec, train", _emitted())
def test_every_emitted_config_validates(spec, train):
    from nncompile.codegen.emit import emit_program
    from nncompile.compiler import load_spec

    source = emit_program(load_spec(spec), train)
    tree = ast.parse(source)
    (value,) = [
        n.value for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "CONFIG"
    ]
    config = ast.literal_eval(value)
    assert R.RunConfig.model_validate(config).dump() == config


# ---- every key is read ---------------------------------------------------------------------------
READ_INDIRECTLY = {
    "version": "checked by RunConfig itself",
    "transfer": "read through RunConfig.freeze, .unfreeze_after and .init",
    "Windows": "handed whole to the data layer (runtime.data.windowed)",
}


def test_every_key_is_read_by_the_runtime():
    text = "\n".join(
        p.read_text()
        for folder in ("runtime", "api")
        for p in (ROOT / "nncompile" / folder).glob("*.py")
    )
    models = [
        R.RunConfig,
        R.Data,
        R.EarlyStopping,
        R.Checkpoint,
        R.Init,
        R.Transfer,
        R.Samples,
        R.Gan,
    ]
    unread = [
        f"{m.__name__}.{name}"
        for m in models
        for name in m.model_fields
        if name not in READ_INDIRECTLY and not re.search(rf"\.{name}\b", text)
    ]
    assert not unread, f"CONFIG keys nobody reads: {unread}"
