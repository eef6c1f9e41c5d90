import * as vscode from 'vscode';
import type { CompletionGate } from '../completion/completionGate.js';
import type { CompletionService } from '../completion/completionService.js';
import { windowRange, type DocumentSync } from '../completion/documentSync.js';

/** A change older than this is not the keystroke a request answers (the cursor moved, or a manual trigger). */
const KEYSTROKE_MAX_AGE_MS = 2000;

/** Adapts VS Code's inline completion API to the vscode-free CompletionService. */
export class TypeGuideInlineProvider implements vscode.InlineCompletionItemProvider {
  constructor(
    private readonly service: CompletionService,
    private readonly documents: DocumentSync,
    private readonly gate: CompletionGate,
    private readonly onResult: (ms: number, shown: boolean) => void,
  ) {}

  async provideInlineCompletionItems(
    document: vscode.TextDocument,
    position: vscode.Position,
    context: vscode.InlineCompletionContext,
    token: vscode.CancellationToken,
  ): Promise<vscode.InlineCompletionItem[] | undefined> {
    if (!this.gate.allows(document.languageId)) return undefined;
    const started = Date.now();
    const explicit = context.triggerKind === vscode.InlineCompletionTriggerKind.Invoke;
    const changed = this.documents.lastChange(document.uri.toString());
    const requestedAt = !explicit && changed !== undefined && started - changed < KEYSTROKE_MAX_AGE_MS ? changed : started;
    const controller = new AbortController();
    const sub = token.onCancellationRequested(() => controller.abort());
    try {
      // A bounded window around the cursor, read as a range: never the whole document per keystroke.
      const offset = document.offsetAt(position);
      const end = document.offsetAt(document.lineAt(document.lineCount - 1).range.end);
      const w = windowRange(offset, end);
      const result = await this.service.complete(
        {
          documentKey: document.uri.toString(),
          languageId: document.languageId,
          filePath: document.uri.scheme === 'file' ? document.uri.fsPath : undefined,
          workspaceRoot: vscode.workspace.getWorkspaceFolder(document.uri)?.uri.fsPath,
          prefix: document.getText(new vscode.Range(document.positionAt(w.start), position)),
          suffix: document.getText(new vscode.Range(position, document.positionAt(w.end))),
          explicit,
          documentOffset: offset,
          documentVersion: document.version,
          requestedAt,
        },
        controller.signal,
      );
      this.onResult(Date.now() - requestedAt, result !== undefined);
      if (!result || token.isCancellationRequested) return undefined;
      return result.texts.map((t) => new vscode.InlineCompletionItem(t, new vscode.Range(position, position)));
    } finally {
      sub.dispose();
    }
  }
}
