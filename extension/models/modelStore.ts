import fs from 'node:fs';
import path from 'node:path';
import { downloadFiles, type DownloadedFile, type DownloadFileSpec, type DownloadProgress } from './downloader.js';
import {
  DEFAULT_MODEL_ID, downloadVariant, filesFor, HUB_URL, MODEL_REGISTRY, onnxFileFor, onnxName, registryEntry, resolveUrl, VARIANTS, variantsOf,
  type ModelFile, type RegistryEntry, type Variant,
} from './registry.js';

export type ModelLocation =
  /** A folder to load: `onnxFile` (relative to `dir`) is the graph of `variant` the loader must open. */
  | { kind: 'folder'; dir: string; label: string; variant: Variant; onnxFile: string; entry?: RegistryEntry }
  /** A registry model with no complete variant on disk; `variant` is what a download would fetch. */
  | { kind: 'notDownloaded'; entry: RegistryEntry; variant: Variant }
  | { kind: 'unknown'; value: string };

/** Written into each download folder: what was fetched from where, and what each file was checked against. */
export const DOWNLOAD_RECORD = 'typeguide-download.json';

type FileRecord =
  | { readonly size: number; readonly sha256: string; readonly verified: 'sha256' | 'size' | 'none' }
  | { readonly missing: true };

interface DownloadRecord {
  readonly repo: string;
  readonly revision: string;
  /** The variant this model loads in: the one last downloaded or selected. */
  selected?: Variant;
  readonly files: Record<string, FileRecord>;
}

export interface ModelStoreOptions {
  readonly hubUrl?: string;
  /** The models known by id (tests pass their own). */
  readonly registry?: readonly RegistryEntry[];
}

/**
 * Where models live: the embedded default inside the extension, downloads under the extension's global
 * storage (<storage>/models/<id>/), or any folder the user names. Each download folder carries a record
 * of what was verified, so "downloaded" means every file of a variant is there as it was checked, and
 * the variant a model loads in is remembered per model (a global setting cannot fit models that offer
 * different variants: the built-in model has only fp32).
 */
export class ModelStore {
  private readonly hubUrl: string;
  readonly registry: readonly RegistryEntry[];

  constructor(
    private readonly embeddedDefaultDir: string,
    readonly downloadsDir: string,
    options: ModelStoreOptions = {},
  ) {
    this.hubUrl = options.hubUrl ?? HUB_URL;
    this.registry = options.registry ?? MODEL_REGISTRY;
  }

  folderOf(id: string): string {
    return id === DEFAULT_MODEL_ID ? this.embeddedDefaultDir : path.join(this.downloadsDir, id);
  }

  /**
   * The `typeguide.model` setting (a registry id or a folder path) and the user's variant preference
   * (`typeguide.modelVariant`; anything but a variant name means none) → what to load.
   */
  resolve(setting: string, preferred?: unknown): ModelLocation {
    const value = setting.trim() || DEFAULT_MODEL_ID;
    const entry = registryEntry(value, this.registry);
    if (entry) {
      const variant = this.variantOf(entry, preferred);
      if (variant) return { kind: 'folder', dir: this.folderOf(entry.id), label: entry.label, variant, onnxFile: onnxFileFor(entry, variant)!, entry };
      return { kind: 'notDownloaded', entry, variant: downloadVariant(entry, preferred) };
    }
    if (path.isAbsolute(value)) return { kind: 'folder', dir: value, label: path.basename(value), ...folderVariant(value, preferred) };
    return { kind: 'unknown', value };
  }

  /**
   * The variant a registry model loads in: the built-in model's only one; otherwise the one remembered
   * for this model, else the preference, else any complete one; undefined when none is complete.
   */
  variantOf(entry: RegistryEntry, preferred?: unknown): Variant | undefined {
    if (entry.builtin) return entry.defaultVariant;
    const complete = this.completeVariants(entry);
    const remembered = this.readRecord(entry)?.selected;
    if (remembered && complete.includes(remembered)) return remembered;
    if (complete.includes(preferred as Variant)) return preferred as Variant;
    return complete[0];
  }

  /** Variants of an entry whose every file is on disk as verified. */
  completeVariants(entry: RegistryEntry): Variant[] {
    return variantsOf(entry).filter((v) => this.isComplete(entry, v));
  }

  /**
   * Every file of the variant (shared ones included) is on disk with the size it was verified at, its
   * sha256 the pinned one where the registry pins it. Files are hashed when downloaded, not re-hashed
   * here (gigabytes on every check); a file changed in place at the same size is not noticed.
   */
  isComplete(entry: RegistryEntry, variant: Variant): boolean {
    if (entry.builtin) return entry.variants[variant] !== undefined;
    const files = filesFor(entry, variant);
    const record = this.readRecord(entry);
    if (!files || !record) return false;
    const dir = this.folderOf(entry.id);
    return files.every((f) => verified(dir, record, f));
  }

  /** Registry entries with a complete variant on disk. */
  downloaded(): RegistryEntry[] {
    return this.registry.filter((e) => !e.builtin && this.completeVariants(e).length > 0);
  }

  /** Variants an entry offers. */
  variantsOf(entry: RegistryEntry): Variant[] {
    return variantsOf(entry);
  }

  /** Remembers the variant a downloaded model loads in (it must be complete). */
  select(entry: RegistryEntry, variant: Variant): void {
    const record = this.readRecord(entry);
    if (!record || !this.isComplete(entry, variant)) throw new Error(`${entry.label} is not downloaded in ${variant}`);
    record.selected = variant;
    this.writeRecord(entry, record);
  }

  /**
   * Fetches every file of the variant not already verified on disk (partial files resume), records each
   * as it completes, then remembers the variant as the one this model loads in.
   */
  async download(entry: RegistryEntry, variant: Variant, options: { signal?: AbortSignal; onProgress?: (p: DownloadProgress) => void } = {}): Promise<string> {
    const files = filesFor(entry, variant);
    if (!entry.repo || !files) throw new Error(`${entry.label} has no ${variant} download; it offers ${this.variantsOf(entry).join(', ')}`);
    const dir = this.folderOf(entry.id);
    const revision = entry.revision ?? 'main';
    let record = this.readRecord(entry);
    if (!record || record.repo !== entry.repo || record.revision !== revision) {
      // A folder from another repository or revision (or from before records were kept): nothing in it is
      // trusted, and its partial files must not be resumed into this repository's files.
      if (fs.existsSync(dir)) removePartials(dir);
      record = { repo: entry.repo, revision, files: {} };
      this.writeRecord(entry, record);
    }
    const current = record;
    const bySpec = new Map<string, ModelFile>(files.map((f) => [f.path, f]));
    const specs: DownloadFileSpec[] = files.map((f) => ({ url: resolveUrl(this.hubUrl, entry.repo!, revision, f.path), path: f.path, sha256: f.sha256, size: f.size, optional: f.optional }));
    await downloadFiles(dir, specs, {
      ...options,
      isDone: (spec) => verified(dir, current, bySpec.get(spec.path)!),
      onFile: (file: DownloadedFile) => {
        current.files[file.path] = file.missing ? { missing: true } : { size: file.size, sha256: file.sha256, verified: file.verified };
        this.writeRecord(entry, current);
      },
    });
    current.selected = variant;
    this.writeRecord(entry, current);
    return dir;
  }

  private readRecord(entry: RegistryEntry): DownloadRecord | undefined {
    const file = path.join(this.folderOf(entry.id), DOWNLOAD_RECORD);
    try {
      const r = JSON.parse(fs.readFileSync(file, 'utf8')) as DownloadRecord;
      return r.repo === entry.repo && r.revision === (entry.revision ?? 'main') && typeof r.files === 'object' ? r : undefined;
    } catch {
      return undefined;
    }
  }

  private writeRecord(entry: RegistryEntry, record: DownloadRecord): void {
    const dir = this.folderOf(entry.id);
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, DOWNLOAD_RECORD);
    // Written aside and renamed, so that a crash leaves the old record or the new one, never half of one.
    fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(record, null, 2)}\n`);
    fs.renameSync(`${file}.tmp`, file);
  }
}

/** A file of the record is on disk as it was verified (an optional one may be recorded as missing). */
function verified(dir: string, record: DownloadRecord, file: ModelFile): boolean {
  const r = record.files[file.path];
  if (!r) return false;
  if ('missing' in r) return file.optional === true;
  if (file.sha256 && r.sha256 !== file.sha256.toLowerCase()) return false;
  const full = path.join(dir, file.path);
  return fs.existsSync(full) && fs.statSync(full).size === r.size;
}

function removePartials(dir: string): void {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) removePartials(full);
    else if (e.isFile() && e.name.endsWith('.part')) fs.rmSync(full, { force: true });
  }
}

/**
 * A folder the user names: the preferred variant when its graph is there (either naming: model*.onnx or
 * the merged decoder's decoder_model_merged*.onnx), else the first variant present; with none present,
 * the preferred (or fp32) name, which the loader then reports missing.
 */
function folderVariant(dir: string, preferred: unknown): { variant: Variant; onnxFile: string } {
  const order = VARIANTS.includes(preferred as Variant) ? [preferred as Variant, ...VARIANTS.filter((v) => v !== preferred)] : VARIANTS;
  for (const variant of order) {
    for (const base of ['model', 'decoder_model_merged'] as const) {
      const onnxFile = onnxName(base, variant);
      if (fs.existsSync(path.join(dir, onnxFile))) return { variant, onnxFile };
    }
  }
  const variant = order[0];
  return { variant, onnxFile: onnxName('model', variant) };
}
