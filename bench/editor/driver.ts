// Workbench actions as a person performs them with the keyboard (quick open, go to line, commands),
// and reads of the probe's records.
import type { Page } from 'playwright-core';
import { PROBE_SCRIPT, type GhostRecord, type ProbeDump } from './pageProbe.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class Workbench {
  constructor(readonly page: Page) {}

  async installProbe(): Promise<void> {
    await this.page.evaluate(PROBE_SCRIPT);
  }

  async runCommand(title: string): Promise<void> {
    await this.page.keyboard.press('F1');
    const input = this.page.locator('.quick-input-widget input');
    await input.waitFor({ state: 'visible' });
    await input.fill(`>${title}`);
    await this.page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().waitFor({ state: 'visible' });
    await this.page.keyboard.press('Enter');
  }

  /** Quick open (Ctrl+P) by workspace-relative path; waits until its tab is the active one. */
  async openFile(rel: string): Promise<void> {
    const base = rel.split('/').at(-1)!;
    await this.page.keyboard.press('Control+P');
    const input = this.page.locator('.quick-input-widget input');
    await input.waitFor({ state: 'visible' });
    await input.fill(rel);
    const row = this.page.locator('.quick-input-list .monaco-list-row').filter({ has: this.page.locator('.label-name', { hasText: new RegExp(`^${escapeRe(base)}$`) }) }).first();
    await row.waitFor({ state: 'visible' });
    await row.click();
    await this.page.locator('.tabs-container .tab.active', { hasText: base }).waitFor({ state: 'visible' });
    await this.page.locator('.editor-instance .monaco-editor.focused').waitFor({ state: 'visible' });
  }

  /** Go to Line (Ctrl+G) `line:column`, 1-based; the cursor lands before that column's character. */
  async goTo(line: number, column: number): Promise<void> {
    await this.page.keyboard.press('Control+G');
    const input = this.page.locator('.quick-input-widget input');
    await input.waitFor({ state: 'visible' });
    await input.fill(`:${line}:${column}`);
    await this.page.keyboard.press('Enter');
    await this.page.locator('.quick-input-widget').waitFor({ state: 'hidden' });
    await this.page.locator('[id="status.editor.selection"]', { hasText: `Ln ${line}, Col ${column}` }).waitFor({ state: 'visible', timeout: 5000 });
  }

  async cursorLine(): Promise<string | null> {
    return this.page.evaluate('window.__tgBench.cursorLine()') as Promise<string | null>;
  }

  async current(): Promise<GhostRecord> {
    return this.page.evaluate('window.__tgBench.current()') as Promise<GhostRecord>;
  }

  async inlineEditShown(): Promise<boolean> {
    return this.page.evaluate('window.__tgBench.inlineEditShown()') as Promise<boolean>;
  }

  /** Notification texts shown since the probe was installed, each once. */
  async toasts(): Promise<{ t: number; text: string }[]> {
    return this.page.evaluate('window.__tgBench.toasts()') as Promise<{ t: number; text: string }[]>;
  }

  async marks(): Promise<{ keys: number; ghosts: number; now: number }> {
    return this.page.evaluate('window.__tgBench.marks()') as Promise<{ keys: number; ghosts: number; now: number }>;
  }

  async dump(from: { keys: number; ghosts: number }): Promise<ProbeDump> {
    return this.page.evaluate(`window.__tgBench.dump(${from.keys}, ${from.ghosts})`) as Promise<ProbeDump>;
  }

  /**
   * Waits (polling the page's records; the times themselves are the page's) until a ghost text is shown
   * after the first (or last) key `key` pressed since `from`, or `capMs` after that key.
   */
  async waitForGhostAfterKey(from: { keys: number; ghosts: number }, key: string, capMs: number, which: 'first' | 'last' = 'first'): Promise<void> {
    const expr = `(() => { const b = window.__tgBench; const k = b.keys.slice(${from.keys}).filter((k) => k.key === ${JSON.stringify(key)}).at(${which === 'first' ? 0 : -1});
      if (!k) return false; if (performance.now() - k.t > ${capMs}) return true;
      return b.ghosts.slice(${from.ghosts}).some((g) => g.t > k.t && (g.ghost.trim() !== '' || g.more.trim() !== '')); })()`;
    await this.page.waitForFunction(expr, undefined, { timeout: capMs + 15_000, polling: 50 });
  }

  /** Hides a shown ghost text (Escape) until none is shown. */
  async dismissGhost(): Promise<void> {
    for (let i = 0; i < 5; i++) {
      const c = await this.current();
      if (c.ghost.trim() === '' && c.more.trim() === '') return;
      await this.page.keyboard.press('Escape');
      await sleep(100);
    }
  }
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
