/** Whether TypeGuide completes now: the on/off switch, a snooze, and the configured languages. */
export type GateState = { readonly kind: 'on' } | { readonly kind: 'off' } | { readonly kind: 'snoozed'; readonly until: number };

export interface GateSettings {
  /** `typeguide.enabled`. */
  readonly enabled: boolean;
  /** The languages TypeGuide completes (see effectiveLanguages). */
  readonly languages: readonly string[];
}

/**
 * The user's switches. A snooze is a time, not a timer: it ends by itself when the clock passes it (the
 * host persists `snoozedUntil` so a reload keeps it).
 */
export class CompletionGate {
  private until = 0;

  constructor(
    private readonly settings: () => GateSettings,
    private readonly now: () => number = Date.now,
    snoozedUntil = 0,
  ) {
    this.until = snoozedUntil;
  }

  snooze(minutes: number): number {
    this.until = this.now() + minutes * 60_000;
    return this.until;
  }

  resume(): void {
    this.until = 0;
  }

  get snoozedUntil(): number {
    return this.until > this.now() ? this.until : 0;
  }

  state(): GateState {
    if (!this.settings().enabled) return { kind: 'off' };
    const until = this.snoozedUntil;
    return until ? { kind: 'snoozed', until } : { kind: 'on' };
  }

  /** Complete in a document of this language now? */
  allows(languageId: string): boolean {
    return this.state().kind === 'on' && this.settings().languages.includes(languageId);
  }
}

/** The languages each registry model's card names (the built-in model saw TypeScript and JavaScript only). */
const MODEL_CARD_LANGUAGES: Record<string, readonly string[]> = {
  'typeguide-default': ['typescript', 'typescriptreact', 'javascript', 'javascriptreact'],
  'qwen2.5-coder-0.5b': ['typescript', 'typescriptreact', 'javascript', 'javascriptreact', 'python'],
  'qwen2.5-coder-1.5b': ['typescript', 'typescriptreact', 'javascript', 'javascriptreact', 'python'],
  'deepseek-coder-1.3b-base': ['typescript', 'typescriptreact', 'javascript', 'javascriptreact', 'python'],
};

/** Every language some model can be configured for: the extension activates on these. */
export const ACTIVATION_LANGUAGES: readonly string[] = [...new Set(Object.values(MODEL_CARD_LANGUAGES).flat())];

/** The default languages for a model (a registry id or a folder): its card's, else the built-in's. */
export function modelLanguages(model: string): readonly string[] {
  return MODEL_CARD_LANGUAGES[model] ?? MODEL_CARD_LANGUAGES['typeguide-default'];
}

/** Values of a setting in each scope, as VS Code's `inspect` reports them. */
export interface ScopedValues<T> {
  readonly globalValue?: T;
  readonly workspaceValue?: T;
  readonly workspaceFolderValue?: T;
  readonly globalLanguageValue?: T;
  readonly workspaceLanguageValue?: T;
  readonly workspaceFolderLanguageValue?: T;
}

/** `typeguide.languages` when the user set it anywhere, else the model card's languages. */
export function effectiveLanguages(values: ScopedValues<readonly string[]> | undefined, model: string): readonly string[] {
  return values?.workspaceFolderValue ?? values?.workspaceValue ?? values?.globalValue ?? modelLanguages(model);
}

export interface WriteTarget {
  readonly scope: 'global' | 'workspace' | 'workspaceFolder';
  /** Write the language-specific (`[lang]`) value. */
  readonly language: boolean;
}

/**
 * Where to write a setting so the change takes effect: the scope its effective value comes from (VS Code's
 * precedence: language-specific over plain, folder over workspace over user), the user settings when it
 * is set nowhere. Writing the user value under a workspace value would change nothing.
 */
export function writeTarget(values: ScopedValues<unknown> | undefined): WriteTarget {
  const v = values ?? {};
  if (v.workspaceFolderLanguageValue !== undefined) return { scope: 'workspaceFolder', language: true };
  if (v.workspaceLanguageValue !== undefined) return { scope: 'workspace', language: true };
  if (v.globalLanguageValue !== undefined) return { scope: 'global', language: true };
  if (v.workspaceFolderValue !== undefined) return { scope: 'workspaceFolder', language: false };
  if (v.workspaceValue !== undefined) return { scope: 'workspace', language: false };
  return { scope: 'global', language: false };
}

/**
 * Shows each failure once: `first(key)` is true the first time a key is reported, false after, until
 * `clear` (the failure went away: a model loaded, a generation worked).
 */
export class FailureNotices {
  private readonly shown = new Set<string>();

  first(key: string): boolean {
    if (this.shown.has(key)) return false;
    this.shown.add(key);
    return true;
  }

  clear(key?: string): void {
    if (key === undefined) this.shown.clear();
    else this.shown.delete(key);
  }
}
