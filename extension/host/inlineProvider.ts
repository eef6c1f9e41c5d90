import * as vscode from 'vscode';
import type { CompletionGate } from '../completion/completionGate.js';
import type { CompletionService } from '../completion/completionService.js';
import type { CompletionRequest } from '../completion/types.js';
import { windowRange, type DocumentSync } from '../completion/documentSync.js';

/** A change older than this is not the keystroke a request answers (the cursor moved, or a manual trigger). */
const KEYSTROKE_MAX_AGE_MS = 2000;

/** Adapts VS Code's inline completion API to the vscode-free CompletionService. */
export class TypeGuideInlineProvider implements vscode.InlineCompletionItemProvider {
  /** Where the last suggestion was handed to VS Code (document, offset): it belongs to that place only. */
  lastShown: { readonly key: string; readonly offset: number } | undefined;

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
      const result = await this.service.complete(requestAt(document, position, explicit, requestedAt), controller.signal);
      // VS Code does not always cancel a request when the cursor moves on: an answer for a place the
      // cursor has left is dropped here, or it would be shown where the user no longer is.
      const editor = vscode.window.activeTextEditor;
      const moved = editor !== undefined && editor.document === document && !editor.selection.active.isEqual(position);
      const shown = result !== undefined && !token.isCancellationRequested && !moved;
      if (result !== undefined && !shown) this.service.dropped(token.isCancellationRequested ? 'VS Code cancelled the request' : 'the cursor moved', document.uri.toString(), document.offsetAt(position));
      this.onResult(Date.now() - requestedAt, shown);
      if (!shown) return undefined;
      this.lastShown = { key: document.uri.toString(), offset: document.offsetAt(position) };
      return result.texts.map((t) => new vscode.InlineCompletionItem(t, new vscode.Range(position, position)));
    } finally {
      sub.dispose();
    }
  }

  /**
   * The user typed a character and the cursor is at `position`: start the suggestion's generation before
   * VS Code asks for it (it asks after its own debounce), when VS Code would ask at all.
   */
  speculateAt(document: vscode.TextDocument, position: vscode.Position): void {
    if (!this.gate.allows(document.languageId)) return;
    if (!vscode.workspace.getConfiguration('editor', document).get<boolean>('inlineSuggest.enabled', true)) return;
    this.service.speculate(requestAt(document, position, false, Date.now()));
  }

  /**
   * The user paused at a new place (another file, a cursor jump): warm the engine's prompt cache there.
   * With a selection, the prompt is the one typing over it will have: the text before its start and after
   * its end.
   */
  warmAt(document: vscode.TextDocument, selection: vscode.Selection): void {
    if (!this.gate.allows(document.languageId)) return;
    this.service.warm(requestAt(document, selection.start, false, Date.now(), selection.end));
  }
}

/** The request at `position`: a bounded window around the cursor, read as ranges (never the whole document). */
function requestAt(document: vscode.TextDocument, position: vscode.Position, explicit: boolean, requestedAt: number, suffixFrom = position): CompletionRequest {
  const offset = document.offsetAt(position);
  const end = document.offsetAt(document.lineAt(document.lineCount - 1).range.end);
  const w = windowRange(offset, end);
  return {
    documentKey: document.uri.toString(),
    languageId: document.languageId,
    filePath: document.uri.scheme === 'file' ? document.uri.fsPath : undefined,
    workspaceRoot: vscode.workspace.getWorkspaceFolder(document.uri)?.uri.fsPath,
    prefix: document.getText(new vscode.Range(document.positionAt(w.start), position)),
    suffix: document.getText(new vscode.Range(suffixFrom, document.positionAt(Math.max(w.end, document.offsetAt(suffixFrom))))),
    explicit,
    documentOffset: offset,
    documentVersion: document.version,
    requestedAt,
  };
}
