// Connects the harness to the language monitor (language-monitor/, issue 3): its MonitorService yields
// the logits processors for one completion over its own LSP sessions. One service per evaluated
// package (its sessions are per workspace root), disposed when the harness moves on, so at most one
// language server runs at a time.
import { pathToFileURL } from 'node:url';
import { MonitorService, emptyStatistics, type MonitorServiceOptions, type MonitorStatistics } from '../../language-monitor/index.js';
import type { LogitsProcessor, TextTokenizer } from '../../model/types.js';
import type { CompletionRequest } from './completer.js';
import type { MonitorProvider } from './modelCompleter.js';

export interface MonitorProviderOptions {
  /** Bound on one server answer (ms) before decoding goes on unconstrained; the extension's default is 300. */
  readonly timeoutMs?: number;
  /** Bound on the warm-up query that loads a package's project into the server (ms). */
  readonly warmupMs?: number;
  readonly servers?: MonitorServiceOptions['servers'];
  readonly log?: (msg: string) => void;
}

/** The document the server sees for a site: the file with the rest of the site's line removed. */
export function siteDocument(req: CompletionRequest): string {
  return req.prefix + req.suffix;
}

export function languageIdFor(file: string): string {
  return /\.tsx$/i.test(file) ? 'typescriptreact' : 'typescript';
}

/** Sums a package's monitor statistics into the run's (lists concatenated). */
function addStatistics(into: MonitorStatistics, from: MonitorStatistics): void {
  for (const k of Object.keys(into.triggers) as (keyof MonitorStatistics['triggers'])[]) into.triggers[k] += from.triggers[k];
  into.queries += from.queries;
  into.cacheHits += from.cacheHits;
  into.timeouts += from.timeouts;
  into.failures += from.failures;
  into.serverMs.push(...from.serverMs);
  into.maskedSteps += from.maskedSteps;
  into.argmaxChanged += from.argmaxChanged;
  into.maskUs.push(...from.maskUs);
  into.fastForwards += from.fastForwards;
  into.forcedTokens += from.forcedTokens;
  into.forwardPassesSaved += from.forwardPassesSaved;
}

export class LanguageMonitorProvider implements MonitorProvider {
  readonly name = 'language-monitor';
  private service: { root: string; monitors: MonitorService; warmed: Set<string> } | undefined;
  private readonly totals = emptyStatistics();

  constructor(private readonly opts: MonitorProviderOptions = {}) {}

  private async serviceFor(root: string): Promise<{ monitors: MonitorService; warmed: Set<string> }> {
    if (this.service?.root !== root) {
      await this.endPackage();
      const monitors = await MonitorService.create({ timeoutMs: this.opts.timeoutMs ?? 300, log: this.opts.log, servers: this.opts.servers });
      this.service = { root, monitors, warmed: new Set() };
    }
    return this.service;
  }

  /** Starts the server and loads the project before the first completion in each file, so latency is
   *  measured against a warm server (as while editing), not project loading. */
  async prepare(req: CompletionRequest): Promise<void> {
    const { monitors, warmed } = await this.serviceFor(req.root);
    const uri = pathToFileURL(req.site.file).href;
    if (warmed.has(uri)) return;
    warmed.add(uri);
    const rootUri = pathToFileURL(req.root).href;
    const languageId = languageIdFor(req.site.file);
    if (await monitors.prepare({ languageId, uri, text: siteDocument(req), rootUri })) {
      const client = monitors.sessionFor(languageId, uri, rootUri);
      const line = req.prefix.split('\n').length - 1;
      const character = req.prefix.length - (req.prefix.lastIndexOf('\n') + 1);
      await client?.completion(uri, { line, character }, this.opts.warmupMs ?? 20_000);
    }
  }

  async forCompletion(req: CompletionRequest, tokenizer: TextTokenizer): Promise<{ processors: LogitsProcessor[]; done(): Promise<void> }> {
    await this.prepare(req);
    const { monitors } = await this.serviceFor(req.root);
    const uri = pathToFileURL(req.site.file).href;
    const rootUri = pathToFileURL(req.root).href;
    const languageId = languageIdFor(req.site.file);
    const text = siteDocument(req);
    const processors = monitors.createProcessors({ languageId, uri, text, offset: req.prefix.length, tokenizer, rootUri });
    return {
      processors,
      done: () => {
        monitors.finish(processors);
        return Promise.resolve();
      },
    };
  }

  /** Monitor statistics over every package so far. */
  statistics(): MonitorStatistics {
    const s = emptyStatistics();
    addStatistics(s, this.totals);
    if (this.service) addStatistics(s, this.service.monitors.statistics());
    return s;
  }

  async endPackage(): Promise<void> {
    const current = this.service;
    this.service = undefined;
    if (current) {
      addStatistics(this.totals, current.monitors.statistics());
      await current.monitors.dispose();
    }
  }

  async dispose(): Promise<void> {
    await this.endPackage();
  }
}
