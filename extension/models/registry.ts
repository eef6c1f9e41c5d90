// Models TypeGuide knows by name: the one shipped inside the extension, and ONNX exports of real code
// models on the Hugging Face Hub in the transformers.js layout (config.json, tokenizer*.json, onnx/*.onnx).
// Sizes are what the Hub lists (approximate); checksums are taken from the Hub's LFS metadata
// (X-Linked-Etag, the file's sha256) at download time unless pinned here.

export type Variant = 'fp32' | 'fp16' | 'q8' | 'q4';

export interface ModelFile {
  /** Path inside the repository (and inside the model folder). */
  readonly path: string;
  /** Expected size in bytes when known (progress before the server says). */
  readonly size?: number;
  /** Pinned sha256 (hex); otherwise the Hub's LFS etag is checked, and small non-LFS files are not. */
  readonly sha256?: string;
}

export interface RegistryEntry {
  readonly id: string;
  readonly label: string;
  readonly description: string;
  /** FIM family the engine will detect from the tokenizer (informational). */
  readonly fim: string;
  /** Shipped inside the extension (no download). */
  readonly builtin?: true;
  /** Hub repository and revision. */
  readonly repo?: string;
  readonly revision?: string;
  /** Files every variant needs. */
  readonly files: readonly ModelFile[];
  /** The ONNX file(s) of each variant offered. */
  readonly variants: Partial<Record<Variant, readonly ModelFile[]>>;
}

export const DEFAULT_MODEL_ID = 'typeguide-default';
export const HUB_URL = 'https://huggingface.co';

const transformersJsFiles = (extra: readonly string[] = []): ModelFile[] =>
  ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', ...extra].map((path) => ({ path }));

const MB = 1024 * 1024;

export const MODEL_REGISTRY: readonly RegistryEntry[] = [
  {
    id: DEFAULT_MODEL_ID,
    label: 'TypeGuide default (embedded)',
    description: 'Small Llama-style code model trained for TypeGuide; ships inside the extension.',
    fim: 'starcoder',
    builtin: true,
    files: [],
    variants: { fp32: [{ path: 'onnx/model.onnx' }] },
  },
  {
    id: 'qwen2.5-coder-0.5b',
    label: 'Qwen2.5-Coder 0.5B',
    description: 'Alibaba Qwen2.5-Coder 0.5B (ONNX export, transformers.js layout). FIM: <|fim_prefix|>…',
    fim: 'qwen',
    repo: 'onnx-community/Qwen2.5-Coder-0.5B-Instruct',
    revision: 'main',
    files: transformersJsFiles(),
    variants: {
      q8: [{ path: 'onnx/model_quantized.onnx', size: 500 * MB }],
      q4: [{ path: 'onnx/model_q4.onnx', size: 790 * MB }],
      fp16: [{ path: 'onnx/model_fp16.onnx', size: 990 * MB }],
    },
  },
  {
    id: 'qwen2.5-coder-1.5b',
    label: 'Qwen2.5-Coder 1.5B',
    description: 'Alibaba Qwen2.5-Coder 1.5B (ONNX export, transformers.js layout). FIM: <|fim_prefix|>…',
    fim: 'qwen',
    repo: 'onnx-community/Qwen2.5-Coder-1.5B-Instruct',
    revision: 'main',
    files: transformersJsFiles(),
    variants: {
      q8: [{ path: 'onnx/model_quantized.onnx', size: 1600 * MB }],
      q4: [{ path: 'onnx/model_q4.onnx', size: 1800 * MB }],
    },
  },
  {
    id: 'deepseek-coder-1.3b-base',
    label: 'DeepSeek-Coder 1.3B base',
    description: 'DeepSeek-Coder 1.3B base (ONNX export by Xenova, transformers.js layout). FIM: <｜fim▁begin｜>…',
    fim: 'deepseek-coder',
    repo: 'Xenova/deepseek-coder-1.3b-base',
    revision: 'main',
    files: transformersJsFiles(),
    variants: {
      q8: [{ path: 'onnx/model_quantized.onnx', size: 1350 * MB }],
      q4: [{ path: 'onnx/model_q4.onnx', size: 1070 * MB }],
    },
  },
];

export function registryEntry(id: string): RegistryEntry | undefined {
  return MODEL_REGISTRY.find((e) => e.id === id);
}

/** The files to fetch for an entry in a variant (undefined when the entry does not offer that variant). */
export function filesFor(entry: RegistryEntry, variant: Variant): ModelFile[] | undefined {
  const onnx = entry.variants[variant];
  return onnx ? [...entry.files, ...onnx] : undefined;
}

/** The Hub's download URL layout: <hub>/<repo>/resolve/<revision>/<path>. */
export function resolveUrl(hub: string, repo: string, revision: string, file: string): string {
  return `${hub.replace(/\/$/, '')}/${repo}/resolve/${encodeURIComponent(revision)}/${file.split('/').map(encodeURIComponent).join('/')}`;
}
