import * as vscode from 'vscode';
import type { CompletionService } from '../completion/completionService.js';

/** Adapts VS Code's inline completion API to the vscode-free CompletionService. */
export class TypeGuideInlineProvider implements vscode.InlineCompletionItemProvider {
  constructor(
    private readonly service: CompletionService,
    private readonly onResult: (ms: number, shown: boolean) => void,
  ) {}

  async provideInlineCompletionItems(
    document: vscode.TextDocument,
    position: vscode.Position,
    context: vscode.InlineCompletionContext,
    token: vscode.CancellationToken,
  ): Promise<vscode.InlineCompletionItem[] | undefined> {
    const controller = new AbortController();
    const sub = token.onCancellationRequested(() => controller.abort());
    const started = Date.now();
    try {
      const text = document.getText();
      const offset = document.offsetAt(position);
      const result = await this.service.complete(
        {
          documentKey: document.uri.toString(),
          languageId: document.languageId,
          filePath: document.uri.scheme === 'file' ? document.uri.fsPath : undefined,
          workspaceRoot: vscode.workspace.getWorkspaceFolder(document.uri)?.uri.fsPath,
          prefix: text.slice(0, offset),
          suffix: text.slice(offset),
          explicit: context.triggerKind === vscode.InlineCompletionTriggerKind.Invoke,
        },
        controller.signal,
      );
      this.onResult(Date.now() - started, result !== undefined);
      if (!result || token.isCancellationRequested) return undefined;
      return result.texts.map((t) => new vscode.InlineCompletionItem(t, new vscode.Range(position, position)));
    } finally {
      sub.dispose();
    }
  }
}
