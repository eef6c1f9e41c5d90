// The real model side of the evaluation: the one completion engine (engine/) that the extension's worker
// runs, at the extension's defaults (fill-in-the-middle when the model has it, token healing, PIE's
// prompt cache, the monitor's 300 ms bound), completing greedily to the end of the line.
//
// Configurations are independent: each (prompt mode, project context on/off, monitor on/off) arm has its
// own engine — its own prompt cache, and when monitored its own MonitorService (servers, answer cache) —
// so no answer, cache or warm state passes from one arm to another. A context arm's engine always has its
// own MonitorService, monitored or not: the declarations of imported names come from its language server;
// the request's `monitor` flag alone decides masking. Engines live for one package and share the loaded model.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CompletionEngine, countTriggers, type EngineRequest, type MonitorReport } from '../../engine/completionEngine.js';
import { languageIdFor } from '../../engine/languages.js';
import { emptyStatistics, MonitorService, type MonitorServiceOptions, type MonitorStatistics } from '../../language-monitor/index.js';
import { CodeModel } from '../../model/index.js';
import type { ModelVariant } from '../../model/onnxSession.js';
import type { Completer, CompletionOutcome, CompletionRequest, PromptMode } from './completer.js';

export interface ModelCompleterOptions {
  /** Cap on generated tokens (a line rarely needs more). */
  readonly maxNewTokens?: number;
  /** Cap on prompt tokens (default: the engine's prompt window, as in the extension). */
  readonly maxPromptTokens?: number;
  /** Monitored arms run the language monitor (false: the `with` arm equals the `without` arm). */
  readonly monitor?: boolean;
  /** The monitor's bound on one server answer (ms); the extension's default is 300. */
  readonly timeoutMs?: number;
  /** Bound on the warm-up queries that load a package's project into a fresh server (ms; not timed). */
  readonly warmupMs?: number;
  readonly servers?: MonitorServiceOptions['servers'];
  /** Project context budget of context requests, tokens on top of the prompt window (default 384, the extension's). */
  readonly contextBudgetTokens?: number;
  /** PIE's prompt cache across the sites of a file, as the extension keeps it (default true). */
  readonly pie?: boolean;
  readonly log?: (msg: string) => void;
}

/** Loads a model folder with the project's engine (the variant its config.json names unless told). */
export function loadModel(dir: string, variant?: ModelVariant): Promise<CodeModel> {
  return CodeModel.load(dir, variant ? { variant } : {});
}

interface Arm {
  readonly engine: CompletionEngine;
  readonly monitor: MonitorService | undefined;
  /** Files whose server copy is warm (opened and the project loaded). */
  readonly warmed: Set<string>;
}

/** Sums monitor statistics (lists concatenated). */
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

export class ModelCompleter implements Completer {
  readonly name: string;
  readonly supportsFim: boolean;
  readonly hasMonitor: boolean;
  private arms = new Map<string, Arm>();
  private root: string | undefined;
  private readonly totals = emptyStatistics();

  constructor(private readonly model: CodeModel, private readonly opts: ModelCompleterOptions = {}) {
    this.name = path.basename(model.dir);
    this.supportsFim = model.fim !== undefined && model.fim !== null;
    this.hasMonitor = opts.monitor ?? false;
  }

  private async arm(root: string, mode: PromptMode, monitored: boolean, context: boolean): Promise<Arm> {
    if (this.root !== root) {
      await this.endPackage();
      this.root = root;
    }
    const key = `${mode}:${monitored}:${context}`;
    let arm = this.arms.get(key);
    if (!arm) {
      const monitor = monitored || context
        ? await MonitorService.create({ timeoutMs: this.opts.timeoutMs ?? 300, log: this.opts.log, servers: this.opts.servers })
        : undefined;
      const engine = new CompletionEngine({ model: this.model, monitor, ownsModel: false, warmupMs: this.opts.warmupMs });
      arm = { engine, monitor, warmed: new Set() };
      this.arms.set(key, arm);
    }
    return arm;
  }

  /**
   * Readies the arm's server for this site before it is timed: starts it, loads the project and asks once
   * at the site (what an editor's server has done long before the user types at a site).
   */
  private async warm(arm: Arm, req: CompletionRequest, languageId: string): Promise<void> {
    const monitor = arm.monitor;
    if (!monitor || arm.warmed.has(req.site.file)) return;
    arm.warmed.add(req.site.file);
    if (!(await arm.engine.warm({ file: req.site.file, languageId, text: req.prefix + req.suffix, workspaceRoot: req.root }))) return;
    const uri = pathToFileURL(req.site.file).href;
    const client = monitor.sessionFor(languageId, uri, pathToFileURL(req.root).href);
    if (!client) return;
    client.openDocument(uri, languageId, req.prefix + req.suffix);
    const line = req.prefix.split('\n').length - 1;
    const character = req.prefix.length - (req.prefix.lastIndexOf('\n') + 1);
    await client.completion(uri, { line, character }, this.opts.warmupMs ?? 20_000).catch(() => undefined);
  }

  async complete(req: CompletionRequest): Promise<CompletionOutcome> {
    const monitored = req.monitor && this.hasMonitor;
    const context = req.context ?? false;
    const arm = await this.arm(req.root, req.mode, monitored, context);
    const languageId = languageIdFor(req.site.file) ?? 'typescript';
    await this.warm(arm, req, languageId);
    const engineReq: EngineRequest = {
      file: req.site.file,
      languageId,
      prefix: req.prefix,
      suffix: req.suffix,
      workspaceRoot: req.root,
      maxTokens: this.opts.maxNewTokens ?? 48,
      temperature: 0,
      // The completion is the rest of the site's line: a line break ends it, even a leading one.
      stop: [{ kind: 'strings', strings: ['\n'] }],
      heal: true,
      fim: req.mode === 'fim',
      cache: (this.opts.pie ?? true) ? 'pie' : 'none',
      monitor: monitored,
      maxPromptTokens: this.opts.maxPromptTokens,
      ...(context ? { context: { budgetTokens: this.opts.contextBudgetTokens ?? 384, readFiles: true } } : {}),
    };
    // The declarations lookups (go to definition per imported name) are the editor's warm-up, done before
    // the user types: not timed.
    if (context) await arm.engine.prepareContext(engineReq);
    const r = await arm.engine.complete(engineReq);
    return {
      text: r.text, ms: r.msTotal, tokens: r.tokens.length, forcedTokens: r.forcedTokens, triggers: monitored ? triggerCounts(r.monitor) : undefined,
      ...(r.context ? { context: r.context } : {}),
    };
  }

  /** Monitor statistics over every package and arm so far. */
  statistics(): MonitorStatistics {
    const s = emptyStatistics();
    addStatistics(s, this.totals);
    for (const arm of this.arms.values()) if (arm.monitor) addStatistics(s, arm.monitor.statistics());
    return s;
  }

  async endPackage(): Promise<void> {
    const arms = [...this.arms.values()];
    this.arms = new Map();
    this.root = undefined;
    for (const arm of arms) {
      if (arm.monitor) addStatistics(this.totals, arm.monitor.statistics());
      await arm.engine.dispose();
    }
  }

  async dispose(): Promise<void> {
    await this.endPackage();
    await this.model.dispose();
  }
}

function triggerCounts(report: MonitorReport | undefined): CompletionOutcome['triggers'] {
  const c = countTriggers(report);
  return { total: c.total, constrained: c.constrained, timeout: c.timeout, noAnswer: c.noAnswer + c.unconstrainedAny + c.error };
}
