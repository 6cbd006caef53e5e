"""`nncompile schema`: the JSON Schema of a validated program, and every spec's program as an
instance of it (checked with a small validator of the keywords the schema uses)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nncompile.cli import main
from nncompile.compiler import load_spec
from nncompile.programschema import program_json, schema
from nncompile.registry import registries

SPECS = Path(__file__).resolve().parents[1] / "specs"
TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
    "integer": int,
    "number": (int, float),
}
IGNORED = {"title", "description", "default", "$schema", "$id", "$defs"}


def errors(instance, node: dict, root: dict, where: str = "$") -> list[str]:
    """Why ``instance`` does not match the schema ``node`` (draft 2020-12, the keywords used)."""
    out: list[str] = []
    if "$ref" in node:
        target = root
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        out += errors(instance, target, root, where)
    for key, want in node.items():
        if key in IGNORED or key == "$ref":
            continue
        if key == "type":
            names = want if isinstance(want, list) else [want]
            ok = any(
                isinstance(instance, TYPES[n])
                and not (n in ("integer", "number") and isinstance(instance, bool))
                for n in names
            )
            if not ok:
                out.append(f"{where}: {instance!r} is not {want}")
        elif key == "properties" and isinstance(instance, dict):
            for k, sub in want.items():
                if k in instance:
                    out += errors(instance[k], sub, root, f"{where}.{k}")
        elif key == "additionalProperties" and isinstance(instance, dict):
            extra = [k for k in instance if k not in node.get("properties", {})]
            for k in extra:
                if want is False:
                    out.append(f"{where}: unexpected property {k!r}")
                elif isinstance(want, dict):
                    out += errors(instance[k], want, root, f"{where}.{k}")
        elif key == "required" and isinstance(instance, dict):
            out += [f"{where}: missing {k!r}" for k in want if k not in instance]
        elif key == "items" and isinstance(instance, list):
            for i, x in enumerate(instance):
                out += errors(x, want, root, f"{where}[{i}]")
        elif key in ("anyOf", "oneOf"):
            matches = sum(not errors(instance, sub, root, where) for sub in want)
            if matches == 0 or (key == "oneOf" and matches > 1):
                out.append(f"{where}: {matches} of the {key} alternatives match {instance!r}")
        elif key == "const" and instance != want:
            out.append(f"{where}: {instance!r} is not {want!r}")
        elif key == "enum" and instance not in want:
            out.append(f"{where}: {instance!r} not in {want}")
        elif isinstance(instance, (int, float)) and not isinstance(instance, bool):
            bad = {
                "minimum": instance < want if key == "minimum" else False,
                "maximum": instance > want if key == "maximum" else False,
                "exclusiveMinimum": instance <= want if key == "exclusiveMinimum" else False,
                "exclusiveMaximum": instance >= want if key == "exclusiveMaximum" else False,
            }.get(key, False)
            if bad:
                out.append(f"{where}: {instance!r} violates {key} {want}")
        elif key in ("minItems", "minLength", "minProperties") and _sized(key, instance):
            if len(instance) < want:
                out.append(f"{where}: fewer than {want}")
        elif key == "maxLength" and isinstance(instance, str) and len(instance) > want:
            out.append(f"{where}: longer than {want}")
    return out


def _sized(key: str, instance) -> bool:
    """Whether a size keyword applies to the instance (each to its own type only)."""
    kind = {"minItems": list, "minLength": str, "minProperties": dict}[key]
    return isinstance(instance, kind)


@pytest.fixture(scope="module")
def program_schema() -> dict:
    return schema()


def test_schema_is_generated_from_blocks_and_registries(program_schema):
    defs = program_schema["$defs"]
    assert program_schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    for kind, reg in registries().items():
        names = [alt["properties"]["name"]["const"] for alt in defs[f"ref:{kind}"]["oneOf"]]
        assert names == list(reg), kind
    train = defs["TrainProps"]["properties"]
    assert train["loss"]["anyOf"][0] == {"$ref": "#/$defs/ref:loss"}
    assert train["optimizer"]["anyOf"][0] == {"$ref": "#/$defs/ref:optimizer"}
    assert defs["TrainProps"]["required"] == ["loss"]  # data: optional (fit(data=...) on arrays)
    assert defs["DataProps"]["properties"]["normalize"]["enum"] == ["standard", "minmax", "none"]
    dense = defs["Dense"]["properties"]
    assert dense["activation"]["anyOf"][0] == {"$ref": "#/$defs/ref:activation"}
    assert dense["units"]["minimum"] == 1
    assert "Ref" not in defs and "Span" not in defs
    assert '#/$defs/Ref"' not in json.dumps(program_schema)


@pytest.mark.parametrize("spec", sorted(SPECS.glob("*.nn")), ids=lambda p: p.stem)
def test_every_spec_program_is_an_instance(spec, program_schema):
    instance = program_json(load_spec(spec))
    json.dumps(instance)  # plain JSON
    assert errors(instance, program_schema, program_schema) == []


def test_validator_rejects_a_wrong_program(program_schema):
    instance = program_json(load_spec(SPECS / "digits_mlp.nn"))
    instance["trains"]["main"]["loss"] = {"name": "relu", "params": {}}  # not a loss
    instance["models"]["DigitsMLP"]["nodes"][0]["params"]["units"] = 0
    found = errors(instance, program_schema, program_schema)
    assert any(e.startswith("$.trains.main.loss") for e in found)
    assert any(e.startswith("$.models.DigitsMLP.nodes[0]") for e in found)


def test_cli_prints_schema_and_program(capsys):
    assert main(["schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["title"] == "nncompile validated program"
    assert main(["schema", str(SPECS / "digits_mlp.nn"), "--set", "hidden=64"]) == 0
    program = json.loads(capsys.readouterr().out)
    assert program["lets"]["hidden"] == 64
    assert program["models"]["DigitsMLP"]["nodes"][0]["params"]["units"] == 64
    assert program["models"]["DigitsMLP"]["param_count"] == 64 * 65 + 64 * 65 + 65 * 10
