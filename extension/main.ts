// Composition root: builds the services, wires them to VS Code, and owns every disposable.
import path from 'node:path';
import * as vscode from 'vscode';
import { ACTIVATION_LANGUAGES, CompletionGate, FailureNotices } from './completion/completionGate.js';
import { CompletionService } from './completion/completionService.js';
import { DocumentSync, type EditorDocument } from './completion/documentSync.js';
import { EngineClient, EngineCrashError } from './completion/engineClient.js';
import { EventLoopMonitor } from './completion/eventLoopMonitor.js';
import { registerCommands } from './host/commands.js';
import { TypeGuideInlineProvider } from './host/inlineProvider.js';
import { ModelController } from './host/modelController.js';
import { OutputLog } from './host/outputLog.js';
import { SECTION, Settings } from './host/settings.js';
import { StatusBar } from './host/statusBar.js';
import { ModelStore } from './models/modelStore.js';

let engine: EngineClient | undefined;

const SNOOZE_KEY = 'typeguide.snoozedUntil';

/** A VS Code document as the vscode-free DocumentSync sees it. */
function editorDocument(d: vscode.TextDocument): EditorDocument {
  return {
    key: d.uri.toString(),
    filePath: d.uri.scheme === 'file' ? d.uri.fsPath : undefined,
    languageId: d.languageId,
    version: d.version,
    workspaceRoot: vscode.workspace.getWorkspaceFolder(d.uri)?.uri.fsPath,
    getText: () => d.getText(),
  };
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const settings = new Settings();
  const log = new OutputLog(() => settings.logLevel());
  context.subscriptions.push(log);
  try {
    const status = new StatusBar();
    const loop = new EventLoopMonitor();
    const gate = new CompletionGate(() => ({ enabled: settings.enabled(), languages: settings.languages() }), Date.now, context.globalState.get<number>(SNOOZE_KEY, 0));
    const notices = new FailureNotices();
    const e = new EngineClient(path.join(context.extensionPath, 'dist', 'engineWorker.js'), log);
    engine = e;
    const store = new ModelStore(path.join(context.extensionPath, 'model', 'default-model'), path.join(context.globalStorageUri.fsPath, 'models'));
    const models = new ModelController(e, store, settings, status, log);
    const sync = new DocumentSync((event) => e.document(event), () => settings.languages());
    const openDocuments = (): EditorDocument[] => vscode.workspace.textDocuments.map(editorDocument);

    const gateChanged = (): void => {
      void context.globalState.update(SNOOZE_KEY, gate.snoozedUntil);
      const language = vscode.window.activeTextEditor?.document.languageId;
      const off = language !== undefined && ACTIVATION_LANGUAGES.includes(language) && !settings.languages().includes(language) ? language : undefined;
      status.setGate(gate.state(), off);
    };

    const service = new CompletionService(e, () => settings.completion(), {
      log,
      ready: () => e.state.kind === 'ready',
      onGenerating: (on) => {
        loop.setGenerating(on);
        status.setGenerating(on);
      },
      // More text is ready where it was shown: ask VS Code again (the cache has it) if the cursor is still there.
      // VS Code keeps showing the suggestion on screen when asked again at the same place (it preserves the
      // current item at the top of the new list), so the shown one is hidden first: the longer one replaces it.
      // While hidden, Escape still dismisses (the `typeguide.reasking` context key), and the cursor is
      // checked again before asking: a user who moved on gets nothing back.
      onExtended: (documentKey, offset) => {
        const here = (): vscode.TextEditor | undefined => {
          const editor = vscode.window.activeTextEditor;
          return editor && editor.document.uri.toString() === documentKey && editor.selection.isEmpty && editor.document.offsetAt(editor.selection.active) === offset ? editor : undefined;
        };
        if (!here()) return false;
        const setReasking = (on: boolean) => vscode.commands.executeCommand('setContext', 'typeguide.reasking', on);
        void (async () => {
          try {
            await setReasking(true);
            await vscode.commands.executeCommand('editor.action.inlineSuggest.hide');
            if (here()) await vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
            else service.reaskDropped();
          } catch (err) {
            log.debug(`asking again failed: ${err instanceof Error ? err.message : String(err)}`);
          } finally {
            await setReasking(false);
          }
        })();
        return true;
      },
      onFailure: (message, error) => {
        // A crashed worker is reported once by its own notice (onCrash below), not again per request.
        if (error instanceof EngineCrashError) return;
        if (!notices.first(`generation: ${message}`)) return;
        void vscode.window.showErrorMessage(`TypeGuide: completions failed: ${message}`, 'Show Log', 'Select Model').then((a) => {
          if (a === 'Show Log') log.channel.show();
          if (a === 'Select Model') void vscode.commands.executeCommand('typeguide.selectModel');
        });
      },
    });
    const provider = new TypeGuideInlineProvider(service, sync, gate, (ms, shown) => {
      if (shown) status.setLatency(ms);
    });
    let registration = register(provider, settings);

    // The model loads when a document of a configured language is first open, not with every window.
    let modelWanted = false;
    const wantModel = (): void => {
      if (modelWanted) return;
      modelWanted = true;
      void models.reload();
    };
    const opened = (d: vscode.TextDocument): void => {
      sync.opened(editorDocument(d));
      if (settings.languages().includes(d.languageId)) wantModel();
    };

    context.subscriptions.push(
      status,
      { dispose: () => loop.dispose() },
      { dispose: () => service.dispose() },
      { dispose: () => registration.dispose() },
      e.onCrash(({ message, restarting }) => {
        // Once per crash, with what happens next: the user otherwise only sees suggestions stop.
        void vscode.window.showWarningMessage(
          restarting ? `TypeGuide: the completion engine stopped (${message}); restarting it.` : `TypeGuide: the completion engine keeps stopping (${message}); completions are off until the window reloads.`,
          'Show Log',
        ).then((a) => { if (a === 'Show Log') void vscode.commands.executeCommand('typeguide.showLog'); });
      }),
      e.onStateChange((s) => {
        status.setEngine(s);
        if (s.kind === 'ready') {
          notices.clear();
          sync.reopenAll(openDocuments()); // a new model's engine starts with an empty mirror
        }
      }),
      ...registerCommands({ settings, service, engine: e, models, store, loop, log, gate, gateChanged }),
      vscode.workspace.onDidOpenTextDocument(opened),
      // Trust granted: load again, now with the language servers (an untrusted workspace starts none).
      vscode.workspace.onDidGrantWorkspaceTrust(() => { if (modelWanted) void models.reload(); }),
      vscode.workspace.onDidChangeTextDocument((ev) => {
        sync.changed(editorDocument(ev.document), ev.contentChanges);
        const typed = typedAt(ev);
        if (typed) provider.speculateAt(ev.document, typed);
      }),
      vscode.workspace.onDidCloseTextDocument((d) => sync.closed({ key: d.uri.toString() })),
      vscode.window.onDidChangeActiveTextEditor(gateChanged),
      ...warmOnJumps(provider),
      vscode.window.onDidChangeTextEditorSelection((ev) => {
        // The cursor left the place of the suggestion without an edit (Home, a click, an arrow key): the
        // suggestion and its generation belong to that place, so both go (VS Code may otherwise keep
        // showing it where the cursor no longer is).
        const shown = provider.lastShown;
        if (!shown) return;
        const doc = ev.textEditor.document;
        const at = doc.offsetAt(ev.selections[0].active);
        if (doc.uri.toString() === shown.key && at === shown.offset) return;
        const edited = sync.lastChange(doc.uri.toString());
        if (edited !== undefined && Date.now() - edited < EDIT_SELECTION_MS) return; // typing or accepting moves the cursor too
        provider.lastShown = undefined;
        service.dismiss();
        void vscode.commands.executeCommand('editor.action.inlineSuggest.hide');
      }),
      vscode.workspace.onDidChangeConfiguration((ev) => {
        if (!ev.affectsConfiguration(SECTION)) return;
        // The model's card decides the default languages: a model change can change them too.
        if (ev.affectsConfiguration(`${SECTION}.languages`) || ev.affectsConfiguration(`${SECTION}.model`)) {
          registration.dispose();
          registration = register(provider, settings);
          sync.reconcile(openDocuments());
        }
        if (ev.affectsConfiguration(`${SECTION}.enabled`) || ev.affectsConfiguration(`${SECTION}.languages`) || ev.affectsConfiguration(`${SECTION}.model`)) gateChanged();
        if (['model', 'modelVariant', 'threads', 'languageServers', 'monitor.timeoutMs', 'promptWindowTokens'].some((k) => ev.affectsConfiguration(`${SECTION}.${k}`))) {
          service.clear();
          if (modelWanted) void models.reload();
        }
      }),
    );
    log.info(`TypeGuide activated (workspace ${vscode.workspace.isTrusted ? 'trusted' : 'untrusted: monitor and workspace model folders are off'})`);
    gateChanged();
    for (const d of vscode.workspace.textDocuments) opened(d);
  } catch (err) {
    log.error('activation failed', err);
    void vscode.window.showErrorMessage(`TypeGuide failed to start: ${err instanceof Error ? err.message : String(err)}`, 'Show Log').then((a) => {
      if (a === 'Show Log') log.channel.show();
    });
    throw err;
  }
}

function register(provider: vscode.InlineCompletionItemProvider, settings: Settings): vscode.Disposable {
  const selector = settings.languages().map((language) => ({ language }));
  return vscode.languages.registerInlineCompletionItemProvider(selector, provider);
}

export async function deactivate(): Promise<void> {
  await engine?.dispose();
  engine = undefined;
}

/**
 * Where the cursor is after `ev` when it is one character typed (or deleted) in the active editor at its
 * only cursor: the place VS Code is about to ask a suggestion for. Undo/redo, pastes, auto-closed pairs
 * (two characters, the cursor between them), multi-cursor and other extensions' edits give undefined.
 */
function typedAt(ev: vscode.TextDocumentChangeEvent): vscode.Position | undefined {
  const editor = vscode.window.activeTextEditor;
  if (!editor || editor.document !== ev.document || editor.selections.length !== 1 || ev.reason !== undefined) return undefined;
  if (ev.contentChanges.length !== 1) return undefined;
  const c = ev.contentChanges[0];
  const typed = c.rangeLength === 0 && c.text.length === 1 && c.text !== '\n' && c.text !== '\r';
  const deleted = c.rangeLength === 1 && c.text === '';
  if (!typed && !deleted) return undefined;
  return ev.document.positionAt(c.rangeOffset + c.text.length);
}

/** A selection change this soon after an edit comes from the edit (typing, accepting), not from moving. */
const EDIT_SELECTION_MS = 50;

/** Lines the cursor must move (or another file) before the prompt there is warmed; typing moves it less. */
const WARM_JUMP_LINES = 3;
/** Quiet time after a jump before warming (the user is looking, not yet typing). */
const WARM_DELAY_MS = 150;

/**
 * Warms the engine's prompt cache where the user lands after switching files or jumping the cursor, so that
 * the completion that follows encodes a few tokens instead of the whole window (bench:editor's sites).
 */
function warmOnJumps(provider: TypeGuideInlineProvider): vscode.Disposable[] {
  let last: { key: string; line: number } | undefined;
  let timer: NodeJS.Timeout | undefined;
  // With a selection, where typing will go: its start (jump, select the lines, type over them).
  const landing = (editor: vscode.TextEditor): vscode.Position => (editor.selection.isEmpty ? editor.selection.active : editor.selection.start);
  const schedule = (editor: vscode.TextEditor | undefined): void => {
    if (!editor || editor.document.uri.scheme !== 'file') return;
    const key = editor.document.uri.toString();
    const line = landing(editor).line;
    const jumped = !last || last.key !== key || Math.abs(last.line - line) >= WARM_JUMP_LINES;
    last = { key, line };
    if (!jumped) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      const active = vscode.window.activeTextEditor;
      if (active?.document.uri.toString() === key) provider.warmAt(active.document, active.selection);
    }, WARM_DELAY_MS);
  };
  return [
    vscode.window.onDidChangeActiveTextEditor(schedule),
    vscode.window.onDidChangeTextEditorSelection((ev) => schedule(ev.textEditor)),
    { dispose: () => clearTimeout(timer) },
  ];
}

