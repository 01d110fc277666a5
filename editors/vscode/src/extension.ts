// The protocolc extension: starts `protocolc lsp` over stdio and connects VS Code to it.
import { execFile } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { ExtensionContext, TextDocumentContentProvider, Uri, workspace } from "vscode";
import { LanguageClient, LanguageClientOptions, ServerOptions, TransportKind } from "vscode-languageclient/node";

let client: LanguageClient | undefined;

function serverCommand(): string {
  const configured = workspace.getConfiguration("protocolc").get<string>("server.command", "protocolc");
  if (configured !== "protocolc") {
    return configured;
  }
  // Prefer the project's own virtual environment when the workspace has one.
  for (const folder of workspace.workspaceFolders ?? []) {
    const candidate = path.join(folder.uri.fsPath, ".venv", "bin", "protocolc");
    if (fs.existsSync(candidate)) {
      return candidate;
    }
  }
  return configured;
}

// `protocolc://rules/D002` (a diagnostic's rule link when no rulesBaseUrl is set) opens `protocolc explain D002`.
class RuleDocumentation implements TextDocumentContentProvider {
  provideTextDocumentContent(uri: Uri): Promise<string> {
    const code = path.basename(uri.path).replace(/\.html$/, "");
    return new Promise((resolve) => {
      execFile(serverCommand(), ["explain", code], (error, stdout, stderr) => resolve(error ? stderr || String(error) : stdout));
    });
  }
}

export async function activate(context: ExtensionContext): Promise<void> {
  const config = workspace.getConfiguration("protocolc");
  const serverOptions: ServerOptions = {
    command: serverCommand(),
    args: config.get<string[]>("server.args", ["lsp"]),
    transport: TransportKind.stdio,
  };
  const initializationOptions: Record<string, unknown> = { debounceMs: config.get<number>("debounceMs", 150) };
  const rulesBaseUrl = config.get<string>("rulesBaseUrl", "");
  if (rulesBaseUrl) {
    initializationOptions.rulesBaseUrl = rulesBaseUrl;
  }
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: "file", language: "protocol" }, { scheme: "untitled", language: "protocol" }],
    initializationOptions,
  };
  context.subscriptions.push(workspace.registerTextDocumentContentProvider("protocolc", new RuleDocumentation()));
  client = new LanguageClient("protocolc", "protocolc", serverOptions, clientOptions);
  context.subscriptions.push(client);
  await client.start();
}

export async function deactivate(): Promise<void> {
  if (client !== undefined) {
    await client.stop();
    client = undefined;
  }
}
