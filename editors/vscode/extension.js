// The whole extension: start `nncompile lsp` (stdio) for .nn files. Plain JavaScript, no build step;
// `npm install` brings vscode-languageclient. Highlighting works without the server.
const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const [command, ...args] = vscode.workspace
    .getConfiguration("nncompile")
    .get("server.command", ["nncompile", "lsp"]);
  const serverOptions = { command, args, transport: TransportKind.stdio };
  const clientOptions = {
    documentSelector: [{ scheme: "file", language: "nn" }, { scheme: "untitled", language: "nn" }],
    outputChannelName: "nncompile",
  };
  client = new LanguageClient("nncompile", "nncompile language server", serverOptions, clientOptions);
  context.subscriptions.push({ dispose: () => client && client.stop() });
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
