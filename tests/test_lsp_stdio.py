"""Acceptance: `nncompile lsp` driven as a subprocess over stdio with real LSP JSON-RPC messages
(Content-Length framing), as an editor drives it."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytest.importorskip("pygls")

ROOT = Path(__file__).resolve().parents[1]

SPEC = """\
let hidden = 32

data digits {
  source: sklearn("digits")
  split: {train: 0.8, test: 0.2}
}

model Net {
  input x: [64]
  dense(hidden, activation=rleu)
  dense(10, activation=softmax)
}

model Seq {
  input s: [8, 4]
  lstm(16)
}

train {
  model: Net
  data: digits
  loss: categorical_crossentropy
}
"""


class Client:
    """A minimal LSP client: requests with ids, notifications, and a queue of what came back."""

    def __init__(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nncompile", "lsp"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.inbox: queue.Queue = queue.Queue()
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            headers = {}
            while True:
                line = out.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                key, _, value = line.decode().partition(":")
                headers[key.strip().lower()] = value.strip()
            self.inbox.put(json.loads(out.read(int(headers["content-length"]))))

    def send(self, message: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def notify(self, method: str, params: dict) -> None:
        self.send({"method": method, "params": params})

    def request(self, method: str, params: dict, timeout: float = 30):
        reply = self.reply(method, params, timeout)
        assert "error" not in reply, reply
        return reply["result"]

    def reply(self, method: str, params: dict, timeout: float = 30) -> dict:
        self.next_id += 1
        self.send({"id": self.next_id, "method": method, "params": params})
        return self.wait(lambda m: m.get("id") == self.next_id and "method" not in m, timeout)

    def wait(self, match, timeout: float = 30) -> dict:
        while True:
            message = self.inbox.get(timeout=timeout)
            if match(message):
                return message

    def diagnostics(self, uri: str, version: int) -> list[dict]:
        message = self.wait(
            lambda m: (
                m.get("method") == "textDocument/publishDiagnostics"
                and m["params"]["uri"] == uri
                and m["params"].get("version") == version
            )
        )
        return message["params"]["diagnostics"]

    def close(self) -> None:
        self.request("shutdown", {})
        self.notify("exit", {})
        self.proc.wait(timeout=20)


@pytest.fixture()
def client():
    c = Client()
    try:
        yield c
    finally:
        if c.proc.poll() is None:
            c.proc.kill()
        c.proc.wait(timeout=20)


def at(text: str, needle: str, offset: int = 0) -> dict:
    """The LSP position of ``needle`` (+ offset characters) in ``text``."""
    index = text.index(needle) + offset
    line = text.count("\n", 0, index)
    return {"line": line, "character": index - (text.rfind("\n", 0, index) + 1)}


def labels(result) -> list[str]:
    items = result["items"] if isinstance(result, dict) else result
    return [i["label"] for i in items]


def test_an_editor_session_over_stdio(client, tmp_path):
    uri = (tmp_path / "net.nn").as_uri()
    doc = {"textDocument": {"uri": uri}}
    init = client.request(
        "initialize", {"processId": None, "rootUri": tmp_path.as_uri(), "capabilities": {}}
    )
    caps = init["capabilities"]
    for feature in ("hoverProvider", "definitionProvider", "documentFormattingProvider"):
        assert caps[feature]
    assert "(" in caps["completionProvider"]["triggerCharacters"]
    client.notify("initialized", {})

    # the typo is reported at its exact range, with the hint
    client.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "nn", "version": 1, "text": SPEC}},
    )
    (typo,) = client.diagnostics(uri, 1)
    start = at(SPEC, "rleu")
    assert typo["range"] == {
        "start": start,
        "end": {"line": start["line"], "character": start["character"] + 4},
    }
    assert typo["code"] == "E200"
    assert typo["severity"] == 1
    assert typo["message"] == "unknown activation 'rleu'\nhint: did you mean 'relu'?"

    # fixing it clears the diagnostics
    fixed = SPEC.replace("rleu", "relu")
    client.notify(
        "textDocument/didChange",
        {
            "textDocument": {"uri": uri, "version": 2},
            "contentChanges": [
                {
                    "range": {
                        "start": start,
                        "end": {**start, "character": start["character"] + 4},
                    },
                    "text": "relu",
                }
            ],
        },
    )
    assert client.diagnostics(uri, 2) == []

    # completion inside `dense(` offers its arguments, after `activation=` the activations
    typing = fixed.replace("  dense(10, activation=softmax)", "  dense(")
    client.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": uri, "version": 3}, "contentChanges": [{"text": typing}]},
    )
    inside = client.request(
        "textDocument/completion", {**doc, "position": at(typing, "  dense(\n", 8)}
    )
    assert "activation" in labels(inside)
    assert "units" in labels(inside)
    activation = next(i for i in inside["items"] if i["label"] == "activation")
    assert activation["insertText"] == "activation="
    assert activation["detail"].startswith("dense(units, activation=none")

    typing = fixed.replace("  dense(10, activation=softmax)", "  dense(10, activation=")
    client.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": uri, "version": 4}, "contentChanges": [{"text": typing}]},
    )
    after = client.request(
        "textDocument/completion", {**doc, "position": at(typing, "activation=\n", 11)}
    )
    assert "relu" in labels(after)
    assert "dense" not in labels(after)  # only activations fit there

    client.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": uri, "version": 5}, "contentChanges": [{"text": fixed}]},
    )
    assert client.diagnostics(uri, 5) == []

    # hover on `lstm`: its registry docs, and the statement's output shape and parameters
    hover = client.request("textDocument/hover", {**doc, "position": at(fixed, "lstm", 2)})
    value = hover["contents"]["value"]
    assert "long short-term memory" in value
    assert "lstm(units, return_sequences=false" in value
    assert "output `[16]`" in value
    assert f"{4 * (4 * 16 + 16 * 16 + 16):,} parameters" in value  # 1,344 like Keras

    # definition on a use of `hidden` jumps to its `let`
    location = client.request(
        "textDocument/definition", {**doc, "position": at(fixed, "dense(hidden", 8)}
    )
    assert location["uri"] == uri
    assert location["range"]["start"] == at(fixed, "hidden = 32")

    # formatting returns the edits of `nncompile fmt`
    fmt = pytest.importorskip("nncompile.fmt")
    messy = fixed.replace("  input x: [64]", "input   x :[64]")
    client.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": uri, "version": 6}, "contentChanges": [{"text": messy}]},
    )
    edits = client.request(
        "textDocument/formatting", {**doc, "options": {"tabSize": 2, "insertSpaces": True}}
    )
    expected = fmt.format_text(messy, str(tmp_path / "net.nn"))
    assert expected != messy
    assert len(edits) == 1 and edits[0]["newText"] == expected
    assert edits[0]["range"]["start"] == {"line": 0, "character": 0}

    client.close()
    assert client.proc.returncode == 0


def test_navigation_rename_outline_over_stdio(client, tmp_path):
    uri = (tmp_path / "net.nn").as_uri()
    doc = {"textDocument": {"uri": uri}}
    client.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
    client.notify("initialized", {})
    text = SPEC.replace("rleu", "relu")
    client.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "nn", "version": 1, "text": text}},
    )
    assert client.diagnostics(uri, 1) == []
    use = at(text, "model: Net", 8)
    refs = client.request(
        "textDocument/references", {**doc, "position": use, "context": {"includeDeclaration": True}}
    )
    assert [r["range"]["start"] for r in refs] == [at(text, "Net {"), at(text, "model: Net", 7)]
    edit = client.request("textDocument/rename", {**doc, "position": use, "newName": "Classifier"})
    assert [e["newText"] for e in edit["changes"][uri]] == ["Classifier", "Classifier"]
    refused = client.reply("textDocument/rename", {**doc, "position": use, "newName": "Seq"})
    assert "'Seq' is already defined here" in refused["error"]["message"]
    symbols = client.request("textDocument/documentSymbol", doc)
    assert [s["name"] for s in symbols] == ["hidden", "digits", "Net", "Seq", "main"]
    assert [c["name"] for c in symbols[2]["children"]] == ["x"]
    signature = client.request(
        "textDocument/signatureHelp", {**doc, "position": at(text, "lstm(16", 5)}
    )
    assert signature["signatures"][0]["label"].startswith("lstm(units")
    client.close()
