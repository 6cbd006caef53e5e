"""`nncompile schema`: the JSON Schema of a validated program, generated from the pydantic models
(the block properties of ``semantics.schema`` and every registry entry's argument model), and
``program_json``, the validated program as JSON in that shape (`nncompile schema FILE`).

A registry reference (``activation=relu``, ``optimizer: adam(lr=1e-3)``) is ``{"name": ...,
"params": {...}}``; where a field names a registry (``RefTo``), the schema allows exactly that
registry's entries, each with its own arguments. Nothing here is written by hand per name: a
new registry entry or block property appears in the schema by itself.
"""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from .registry import Params, Ref, RefTo, registries
from .semantics import ir
from .semantics.schema import BLOCKS
from .version import __version__

DIALECT = "https://json-schema.org/draft/2020-12/schema"
REF = "#/$defs/Ref"


def _retarget(node: Any, target: str) -> Any:
    """A copy of a schema fragment with its generic Ref references pointing at ``target``."""
    if isinstance(node, dict):
        if node.get("$ref") == REF:
            return {**node, "$ref": target}
        return {k: _retarget(v, target) for k, v in node.items()}
    if isinstance(node, list):
        return [_retarget(v, target) for v in node]
    return node


def _kind_def(kind: str) -> str:
    return f"ref:{kind}"


def schema() -> dict:
    """The JSON Schema (draft 2020-12) of `program_json`'s output."""
    regs = registries()
    models: list[type[Params]] = list(BLOCKS.values())
    for reg in regs.values():
        models += [e.params for e in reg.entries() if e.params not in models]
    refs, generated = models_json_schema([(m, "validation") for m in models])
    defs: dict[str, Any] = generated["$defs"]
    for m in models:  # each field that names a registry: only that registry's entries
        name = refs[(m, "validation")]["$ref"].rsplit("/", 1)[1]
        props = defs[name].get("properties", {})
        for key, info in m.model_fields.items():
            meta = next((x for x in info.metadata if isinstance(x, RefTo)), None)
            if meta is not None and key in props:
                props[key] = _retarget(props[key], f"#/$defs/{_kind_def(meta.kind)}")
    for kind, reg in regs.items():
        defs[_kind_def(kind)] = {
            "description": f"a {kind.replace('_', ' ')}: one of the registry's entries",
            "oneOf": [
                {
                    "type": "object",
                    "description": e.doc,
                    "properties": {
                        "name": {"const": e.name},
                        "params": refs[(e.params, "validation")],
                    },
                    "required": ["name", "params"],
                    "additionalProperties": False,
                }
                for e in reg.entries()
            ],
        }
    for unused in ("Ref", "Span", "Params"):  # the generic reference, replaced above
        defs.pop(unused, None)
    layer = regs["layer"]
    node_params = [
        {
            "properties": {"kind": {"const": e.name}, "params": refs[(e.params, "validation")]},
        }
        for e in layer.entries()
    ]
    defs["Tensor"] = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "shape": {"type": "array", "items": {"type": "integer", "minimum": 1}},
            "dtype": {"enum": ["float32", "int32"]},
        },
        "required": ["name", "shape", "dtype"],
        "additionalProperties": False,
    }
    defs["Node"] = {
        "type": "object",
        "description": "one layer statement, resolved and shaped (shapes without the batch axis)",
        "properties": {
            "name": {"type": "string"},
            "kind": {"type": "string"},
            "params": {},
            "inputs": {"type": "array", "items": {"type": "string"}},
            "output": {"type": "string"},
            "shape": {"type": "array", "items": {"type": "integer", "minimum": 1}},
            "param_count": {"type": "integer", "minimum": 0},
            "line": {"type": "integer", "minimum": 1},
            "submodel": {"$ref": "#/$defs/Model"},
        },
        "required": ["name", "kind", "params", "inputs", "output", "shape", "param_count"],
        "additionalProperties": False,
        "oneOf": [
            *node_params,
            {
                "properties": {
                    "kind": {"const": "activation"},
                    "params": {"$ref": f"#/$defs/{_kind_def('activation')}"},
                }
            },
            {"properties": {"kind": {"const": "model"}}, "required": ["submodel"]},
        ],
    }
    defs["Model"] = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "inputs": {"type": "array", "items": {"$ref": "#/$defs/Tensor"}},
            "nodes": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
            "outputs": {"type": "array", "items": {"$ref": "#/$defs/Tensor"}},
            "param_count": {"type": "integer", "minimum": 0},
        },
        "required": ["name", "inputs", "nodes", "outputs", "param_count"],
        "additionalProperties": False,
    }
    blocks = {
        "data": "DataProps",
        "trains": "TrainProps",
        "sweeps": "SweepProps",
    }
    return {
        "$schema": DIALECT,
        "$id": f"https://nncompile.dev/schema/program-{__version__}.json",
        "title": "nncompile validated program",
        "description": "A spec after parsing, name resolution, validation and shape inference "
        "(`nncompile schema FILE` prints one).",
        "type": "object",
        "properties": {
            "lets": {"type": "object", "description": "the `let` values, evaluated"},
            "models": {"type": "object", "additionalProperties": {"$ref": "#/$defs/Model"}},
            **{
                key: {"type": "object", "additionalProperties": {"$ref": f"#/$defs/{model}"}}
                for key, model in blocks.items()
            },
        },
        "required": ["lets", "models", "data", "trains", "sweeps"],
        "additionalProperties": False,
        "$defs": dict(sorted(defs.items())),
    }


def value_json(value: Any) -> Any:
    """A validated value as JSON: argument models field by field, references as name + params."""
    if isinstance(value, Ref):
        return {"name": value.name, "params": value_json(value.params)}
    if isinstance(value, Params):
        return {k: value_json(getattr(value, k)) for k in type(value).model_fields}
    if isinstance(value, dict):
        return {str(k): value_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [value_json(v) for v in value]
    return value


def _model(m: ir.Model) -> dict:
    tensor = lambda t: {"name": t.name, "shape": list(t.shape), "dtype": t.dtype}
    nodes = []
    for n in m.nodes:
        node = {
            "name": n.name,
            "kind": n.kind,
            "params": value_json(n.params),
            "inputs": list(n.inputs),
            "output": n.output,
            "shape": list(n.shape),
            "param_count": n.param_count,
            "line": n.span.line,
        }
        if n.submodel is not None:
            node["submodel"] = _model(n.submodel)
        nodes.append(node)
    return {
        "name": m.name,
        "inputs": [tensor(t) for t in m.inputs],
        "nodes": nodes,
        "outputs": [tensor(t) for t in m.outputs],
        "param_count": m.param_count,
    }


def program_json(program: ir.Program) -> dict:
    """The validated program as JSON (an instance of `schema()`)."""
    return {
        "lets": value_json(program.lets),
        "models": {name: _model(m) for name, m in program.models.items()},
        "data": {name: value_json(d.props) for name, d in program.data.items()},
        "trains": {name: value_json(t.props) for name, t in program.trains.items()},
        "sweeps": {name: value_json(s.props) for name, s in program.sweeps.items()},
    }
