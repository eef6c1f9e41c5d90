import fs from 'node:fs';
import path from 'node:path';
import { downloadFiles, type DownloadProgress } from './downloader.js';
import { DEFAULT_MODEL_ID, filesFor, HUB_URL, MODEL_REGISTRY, registryEntry, resolveUrl, type RegistryEntry, type Variant } from './registry.js';

export type ModelLocation =
  | { kind: 'folder'; dir: string; label: string }
  | { kind: 'notDownloaded'; entry: RegistryEntry }
  | { kind: 'unknown'; value: string };

/**
 * Where models live: the embedded default inside the extension, downloads under the extension's global
 * storage (<storage>/models/<id>/), or any folder the user names.
 */
export class ModelStore {
  constructor(
    private readonly embeddedDefaultDir: string,
    readonly downloadsDir: string,
    private readonly hubUrl = HUB_URL,
  ) {}

  folderOf(id: string): string {
    return id === DEFAULT_MODEL_ID ? this.embeddedDefaultDir : path.join(this.downloadsDir, id);
  }

  /** The `typeguide.model` setting: a registry id or a folder path. */
  resolve(setting: string): ModelLocation {
    const value = setting.trim() || DEFAULT_MODEL_ID;
    const entry = registryEntry(value);
    if (entry) {
      const dir = this.folderOf(entry.id);
      if (entry.builtin || this.isComplete(entry)) return { kind: 'folder', dir, label: entry.label };
      return { kind: 'notDownloaded', entry };
    }
    if (path.isAbsolute(value)) return { kind: 'folder', dir: value, label: path.basename(value) };
    return { kind: 'unknown', value };
  }

  /** A download is complete once its config.json and at least one ONNX file are in place (written last, atomically). */
  isComplete(entry: RegistryEntry): boolean {
    const dir = this.folderOf(entry.id);
    if (!fs.existsSync(path.join(dir, 'config.json'))) return false;
    const onnx = path.join(dir, 'onnx');
    return fs.existsSync(onnx) && fs.readdirSync(onnx).some((f) => f.endsWith('.onnx'));
  }

  /** Registry entries already on disk. */
  downloaded(): RegistryEntry[] {
    return MODEL_REGISTRY.filter((e) => !e.builtin && this.isComplete(e));
  }

  /** Variants an entry offers, the requested one first when offered. */
  variantsOf(entry: RegistryEntry): Variant[] {
    return Object.keys(entry.variants) as Variant[];
  }

  async download(entry: RegistryEntry, variant: Variant, options: { signal?: AbortSignal; onProgress?: (p: DownloadProgress) => void } = {}): Promise<string> {
    const files = filesFor(entry, variant);
    if (!entry.repo || !files) throw new Error(`${entry.label} has no ${variant} download; it offers ${this.variantsOf(entry).join(', ')}`);
    const dir = this.folderOf(entry.id);
    // Config last: its presence marks the download complete (isComplete), so it waits for the weights.
    const ordered = [...files.filter((f) => f.path !== 'config.json'), ...files.filter((f) => f.path === 'config.json')];
    await downloadFiles(dir, ordered.map((f) => ({ url: resolveUrl(this.hubUrl, entry.repo!, entry.revision ?? 'main', f.path), path: f.path, sha256: f.sha256, size: f.size })), options);
    return dir;
  }
}
