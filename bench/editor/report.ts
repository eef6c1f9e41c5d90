// The bench's table: the numbers of issue 10's "Done when", one row each, from the JSON result.
import type { Distribution } from './analysis.js';
import type { MemorySample } from './procTree.js';

export interface ReportInput {
  workspace: { package: string };
  machine: { cpus: number; loadavg: { start: number[]; afterSites: number[]; end: number[] } };
  startup: { workbenchMs: number; typeGuideReadyMs: number };
  sites: { count: number; capMs: number; msToGhost: Distribution; msToGhostCensored: Distribution; noSuggestion: number; authorsMemberFirst: number; grewWhileShown?: number; staleGhostTexts: number;
    msToGhostAfterPrefix: Distribution; noSuggestionAfterPrefix: number;
    msToGhostNoPreDotGhost: Distribution; sitesWithPreDotGhost: number };
  storm: {
    seconds: number; keys: number; charactersPerSecondWhileTyping: number; pauses: number; pausesWithSuggestion: number;
    pausesWithSuggestionAtEnd: number; pauseMsToGhost: Distribution; msToGhostAfterTypingStops: number | null; staleGhostTexts: number; staleByRule: Record<string, number>;
  };
  memoryMb: Record<string, MemorySample>;
  baselineMemoryMb?: Record<string, MemorySample> | null;
  eventLoop: Record<string, unknown>;
}

const ms = (v: number | undefined): string => (v === undefined ? '—' : `${v} ms`);
const mb = (v: number | undefined): string => (v === undefined ? '—' : `${Math.round(v)} MB`);

export function formatTable(r: ReportInput): string {
  const mem = (k: string): MemorySample | undefined => r.memoryMb[k];
  const memRow = (label: string, pick: (m: MemorySample) => number, samples: Record<string, MemorySample> = r.memoryMb): string[] =>
    [label, ['start', 'afterSites', 'afterStorm', 'afterIdle'].filter((k) => samples[k]).map((k) => mb(pick(samples[k]))).join(' → ')];
  const loop = r.eventLoop as { all?: { p50: number; p99: number; max: number }; whileGenerating?: { p50: number; p99: number; max: number }; skipped?: string };
  const growth = mem('afterStorm') && mem('start') ? mem('afterStorm')!.extensionHostMb - mem('start')!.extensionHostMb : undefined;
  const alone = mem('beforeTypeGuide')?.extensionHostMb;
  const end = mem('afterStorm');
  const typeGuideTotal = alone !== undefined && end ? end.extensionHostMb - alone + end.typeGuideServersMb : undefined;
  const base = r.baselineMemoryMb ?? undefined;
  /** TypeGuide at one sample point: its host's RSS above the baseline session's at the same point, plus its processes. */
  const aboveBaseline = (k: string): string => {
    const m = mem(k);
    const b = base?.[k];
    if (!m || !b) return '—';
    const host = m.extensionHostMb - b.extensionHostMb;
    return `${mb(host + m.typeGuideServersMb)} (host ${mb(host)}, processes ${mb(m.typeGuideServersMb)})`;
  };
  const rows: string[][] = [
    ['workspace', `${r.workspace.package}, ${r.sites.count} sites`],
    ['startup: workbench / TypeGuide ready', `${ms(r.startup.workbenchMs)} / ${ms(r.startup.typeGuideReadyMs)}`],
    ['`.` → first ghost text p50 / p95 (sites with one)', `${ms(r.sites.msToGhost.p50)} / ${ms(r.sites.msToGhost.p95)} (n=${r.sites.msToGhost.n})`],
    [`… counting no suggestion as ${r.sites.capMs / 1000} s`, `${ms(r.sites.msToGhostCensored.p50)} / ${ms(r.sites.msToGhostCensored.p95)}`],
    ['… sites where no ghost text showed before the dot', `${ms(r.sites.msToGhostNoPreDotGhost.p50)} / ${ms(r.sites.msToGhostNoPreDotGhost.p95)} (n=${r.sites.msToGhostNoPreDotGhost.n}; ${r.sites.sitesWithPreDotGhost} had one)`],
    [`sites with no suggestion within ${r.sites.capMs / 1000} s`, `${r.sites.noSuggestion} of ${r.sites.count}`],
    ['`.xy` (2 letters of the member) → ghost text p50 / p95', `${ms(r.sites.msToGhostAfterPrefix.p50)} / ${ms(r.sites.msToGhostAfterPrefix.p95)} (n=${r.sites.msToGhostAfterPrefix.n}; none at ${r.sites.noSuggestionAfterPrefix})`],
    ['sites whose ghost text starts with the authors\' member', `${r.sites.authorsMemberFirst} of ${r.sites.count}`],
    ['sites whose suggestion grew while shown', r.sites.grewWhileShown === undefined ? '—' : `${r.sites.grewWhileShown} of ${r.sites.count}`],
    ['sites: stale ghost texts', `${r.sites.staleGhostTexts}`],
    ['storm: keys, chars/s while typing', `${r.storm.keys} keys in ${r.storm.seconds} s, ${r.storm.charactersPerSecondWhileTyping} chars/s`],
    ['storm: pauses with a suggestion (any time / at its end)', `${r.storm.pausesWithSuggestion} / ${r.storm.pausesWithSuggestionAtEnd} of ${r.storm.pauses}`],
    ['storm: pause start → ghost text p50 / p95', `${ms(r.storm.pauseMsToGhost.p50)} / ${ms(r.storm.pauseMsToGhost.p95)}`],
    ['storm: last key → ghost text (typing stopped)', r.storm.msToGhostAfterTypingStops === null ? 'none' : ms(r.storm.msToGhostAfterTypingStops)],
    ['storm: stale ghost texts', `${r.storm.staleGhostTexts}${r.storm.staleGhostTexts ? ` (${Object.entries(r.storm.staleByRule).map(([k, v]) => `${k} ${v}`).join(', ')})` : ''}`],
    memRow('RSS extension host (start → sites → storm)', (m) => m.extensionHostMb),
    memRow('RSS TypeGuide processes (engine, language servers)', (m) => m.typeGuideServersMb),
    memRow('RSS other extension-host children (VS Code\'s TS server)', (m) => m.otherExtensionHostChildrenMb),
    ['RSS extension host before TypeGuide activates (VS Code alone)', mb(mem('beforeTypeGuide')?.extensionHostMb)],
    ['extension host growth, start → after storm', mb(growth)],
    ['TypeGuide after storm: host above VS Code alone + its processes', mb(typeGuideTotal)],
    base ? memRow('baseline (VS Code alone, same script): extension host start → sites → storm', (m) => m.extensionHostMb, base)
      : ['baseline (VS Code alone, same script): extension host start → sites → storm', 'skipped'],
    ['TypeGuide after storm: host above the baseline + its processes', aboveBaseline('afterStorm')],
    ['… 3 s after the storm (idle: the engine has trimmed its heap)', aboveBaseline('afterIdle')],
    ['event-loop delay p50 / p99 / max (all; while generating)', loop.all
      ? `${ms(loop.all.p50)} / ${ms(loop.all.p99)} / ${ms(loop.all.max)}; ${loop.whileGenerating ? `${ms(loop.whileGenerating.p50)} / ${ms(loop.whileGenerating.p99)} / ${ms(loop.whileGenerating.max)}` : '—'}`
      : `skipped: ${loop.skipped ?? 'not reported'}`],
    ['load average (1 min) start / after sites / end', `${r.machine.loadavg.start[0]} / ${r.machine.loadavg.afterSites[0]} / ${r.machine.loadavg.end[0]} on ${r.machine.cpus} cores`],
  ];
  const w = Math.max(...rows.map((x) => x[0].length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n');
}
