// What runs inside the workbench page: a capture-phase keydown listener and a MutationObserver that
// record, with the page's own performance.now(), each key press and each change of the ghost text in
// the focused editor. Timing in the page leaves out Playwright's round trips and the extension's own
// view of its latency. The script is a plain string: functions passed to page.evaluate are serialized
// from tsx's transpiled output, which may call helpers that do not exist in the page.

/** A key press, as the page saw it. */
export interface KeyRecord {
  /** performance.now() in the page when the keydown reached the window (capture phase). */
  readonly t: number;
  readonly key: string;
}

/** The ghost text of the focused editor after a DOM change that altered it (or the text before it). */
export interface GhostRecord {
  readonly t: number;
  /** Ghost text on the cursor's line (VS Code's `.ghost-text-decoration` spans), spaces normalized. */
  readonly ghost: string;
  /** Further lines of a multi-line suggestion (view zone `.suggest-preview-text`), joined by '\n'. */
  readonly more: string;
  /** The line's text before the ghost text (what is before the cursor), when a ghost text is shown. */
  readonly before: string;
  /** The line's text after the ghost text. */
  readonly after: string;
}

export interface ProbeDump {
  readonly keys: KeyRecord[];
  readonly ghosts: GhostRecord[];
  readonly now: number;
}

/** Selectors of VS Code 1.139's inline-suggestion rendering (checked against its workbench CSS). */
export const GHOST_INLINE = '.ghost-text-decoration, .ghost-text-decoration-preview';
/** Further lines of a suggestion: a view zone whose lines' tokens carry `.ghost-text`. */
export const GHOST_LINES = '.view-zones .suggest-preview-text';

export const PROBE_SCRIPT = String.raw`
(() => {
  if (window.__tgBench) return 'already installed';
  const INLINE = ${JSON.stringify(GHOST_INLINE)};
  const LINES = ${JSON.stringify(GHOST_LINES)};
  const norm = (s) => s.replace(/\u00a0/g, ' ');
  const b = { keys: [], ghosts: [], last: '' };
  const editorEl = () => document.querySelector('.monaco-editor.focused') || document.querySelector('.editor-instance .monaco-editor');
  const state = () => {
    const ed = editorEl();
    if (!ed) return { ghost: '', more: '', before: '', after: '' };
    const inline = [...ed.querySelectorAll('.view-lines ' + INLINE.split(', ').join(', .view-lines '))];
    const zones = [...ed.querySelectorAll(LINES)];
    const ghost = norm(inline.map((e) => e.textContent || '').join(''));
    const zoneLines = (z) => { const ls = [...z.querySelectorAll('.view-line')]; return ls.length ? ls.map((l) => l.textContent || '') : [z.textContent || '']; };
    const more = zones.flatMap(zoneLines).map(norm).join('\n').replace(/\n+$/, '');
    let before = '', after = '';
    const line = inline.length > 0 ? inline[0].closest('.view-line') : null;
    if (line) {
      let seen = false;
      const walker = document.createTreeWalker(line, NodeFilter.SHOW_TEXT);
      for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const inGhost = n.parentElement && n.parentElement.closest(INLINE);
        if (inGhost) { seen = true; continue; }
        if (seen) after += n.textContent; else before += n.textContent;
      }
    }
    return { ghost, more, before: norm(before), after: norm(after) };
  };
  const toasts = new Map();
  const record = () => {
    // Notifications the user saw (TypeGuide's errors must reach the user once, not at every keystroke).
    for (const n of document.querySelectorAll('.notification-toast .notification-list-item-message')) {
      const text = norm(n.textContent || '').slice(0, 300);
      if (text && !toasts.has(text)) toasts.set(text, performance.now());
    }
    const s = state();
    const key = JSON.stringify(s);
    if (key === b.last) return;
    b.last = key;
    b.ghosts.push({ t: performance.now(), ...s });
  };
  window.addEventListener('keydown', (e) => {
    b.keys.push({ t: performance.now(), key: e.key });
  }, true);
  new MutationObserver(record).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ['class'] });
  b.current = () => ({ t: performance.now(), ...state() });
  // VS Code shows a suggestion that does not extend the line as an inline edit, not as ghost text.
  // Its containers stay in the DOM when empty: count only one that takes up room and is not hidden.
  b.inlineEditShown = () => [...document.querySelectorAll('.monaco-editor.focused .inline-edits-view, .monaco-editor.focused .inline-edits-view-gutter-indicator')]
    .some((e) => { const r = e.getBoundingClientRect(); const cs = getComputedStyle(e); return r.width > 1 && r.height > 1 && cs.visibility !== 'hidden' && cs.display !== 'none' && cs.opacity !== '0'; });
  // The text of the line the (primary) cursor is on (the view line at the cursor's top offset), without ghost text.
  b.cursorLine = () => {
    const ed = editorEl();
    const cur = ed && ed.querySelector('.cursors-layer .cursor');
    if (!cur) return null;
    const line = [...ed.querySelectorAll('.view-lines .view-line')].find((l) => l.style.top === cur.style.top);
    if (!line) return null;
    let text = '';
    const walker = document.createTreeWalker(line, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) if (!(n.parentElement && n.parentElement.closest(INLINE))) text += n.textContent;
    return norm(text);
  };
  b.dump = (fromKey, fromGhost) => ({ keys: b.keys.slice(fromKey), ghosts: b.ghosts.slice(fromGhost), now: performance.now() });
  b.toasts = () => [...toasts.entries()].map(([text, t]) => ({ t, text }));
  b.marks = () => ({ keys: b.keys.length, ghosts: b.ghosts.length, now: performance.now() });
  window.__tgBench = b;
  record();
  return 'installed';
})()
`;
