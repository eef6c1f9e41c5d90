// Models TypeGuide knows by name: the one shipped inside the extension, and ONNX exports of real code
// models on the Hugging Face Hub in the transformers.js layout (config.json, tokenizer*.json, onnx/*.onnx).
//
// Provenance. The file names below come from the public listings of each repository as recorded in
// shared/REFERENCE.md ("Real exports on the Hub", December 2026); this machine cannot reach the Hub, so
// none of them was fetched here. Sizes and sha256 are NOT pinned: the listings give only rounded sizes,
// and inventing exact values would make a correct download fail. Instead the downloader takes the size
// the server reports (X-Linked-Size / Content-Length) and the Hub's sha256 (X-Linked-Etag of LFS files),
// checks every file against them, and the model store records what it verified. `approxSize` is the
// rounded size from the listing (or parameters × bytes per weight where the listing gives none), shown
// to the user before a download and used for nothing else.

export type Variant = 'fp32' | 'fp16' | 'q8' | 'q4';
export const VARIANTS: readonly Variant[] = ['fp32', 'q8', 'q4', 'fp16'];

export function isVariant(value: unknown): value is Variant {
  return typeof value === 'string' && (VARIANTS as readonly string[]).includes(value);
}

export interface ModelFile {
  /** Path inside the repository (and inside the model folder). */
  readonly path: string;
  /** Pinned size in bytes; used only when the server reports none (the server's size wins). */
  readonly size?: number;
  /** Pinned sha256 (hex); otherwise the Hub's LFS etag is checked, and small non-LFS files are not. */
  readonly sha256?: string;
  /** The loader reads it when present; a 404 is not an error and its absence does not make a download incomplete. */
  readonly optional?: true;
}

export interface VariantFiles {
  /** The ONNX graph the loader opens (path inside the model folder). */
  readonly onnx: string;
  /** Every file of this variant: the graph first, then its external data (`<graph>.onnx_data`) if any. */
  readonly files: readonly ModelFile[];
  /** Rounded total, for display before a download; never used to check a file or as a progress total. */
  readonly approxSize?: string;
  /** Where the file names come from, and what could not be checked. */
  readonly source: string;
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
  readonly variants: Partial<Record<Variant, VariantFiles>>;
  /** What a download fetches when the user states no preference (or one the entry does not offer). */
  readonly defaultVariant: Variant;
}

export const DEFAULT_MODEL_ID = 'typeguide-default';
export const HUB_URL = 'https://huggingface.co';

/** The transformers.js/optimum naming: `<base><suffix>.onnx`, e.g. model_quantized.onnx, decoder_model_merged_q4.onnx. */
const SUFFIX: Record<Variant, string> = { fp32: '', fp16: '_fp16', q8: '_quantized', q4: '_q4' };

/** The ONNX file a variant of an export named `base` (`model` or `decoder_model_merged`) lives in. */
export function onnxName(base: 'model' | 'decoder_model_merged', variant: Variant): string {
  return `onnx/${base}${SUFFIX[variant]}.onnx`;
}

/** One variant's files: the graph, plus `<graph>_data` when its weights are external (files over 2 GB). */
function variant(base: 'model' | 'decoder_model_merged', v: Variant, externalData: boolean, approxSize: string, source: string): VariantFiles {
  const onnx = onnxName(base, v);
  return { onnx, files: externalData ? [{ path: onnx }, { path: `${onnx}_data` }] : [{ path: onnx }], approxSize, source };
}

const transformersJsFiles: readonly ModelFile[] = [
  { path: 'config.json' },
  { path: 'tokenizer.json' },
  // Read by the loader when present (EOS ids, special tokens); not every export has them.
  { path: 'generation_config.json', optional: true },
  { path: 'tokenizer_config.json', optional: true },
];

const LISTING = 'shared/REFERENCE.md, "Real exports on the Hub" (public listing, Dec 2026; not fetched here)';

export const MODEL_REGISTRY: readonly RegistryEntry[] = [
  {
    id: DEFAULT_MODEL_ID,
    label: 'TypeGuide default (embedded)',
    description: 'Small Llama-style code model trained for TypeGuide; ships inside the extension.',
    fim: 'starcoder',
    builtin: true,
    files: [],
    // Its only variant in the VSIX: whatever the user's variant preference, this is what loads. The
    // repository also keeps onnx/model.onnx (the same int8 weights, folded into float32 at load: exact
    // float32 numerics, ~130 MB more resident) for the tests that check the KV cache and PIE exactly.
    variants: { q8: { onnx: 'onnx/model_quantized.onnx', files: [{ path: 'onnx/model_quantized.onnx' }], source: 'model/default-model/onnx/ in this repository (model/train/matmul_nbits.py)' } },
    defaultVariant: 'q8',
  },
  {
    // No base (non-Instruct) export of the 0.5B model exists in this layout, so this is the Instruct
    // one, labelled as such; fill-in-the-middle still works with Qwen2.5-Coder's FIM tokens but base
    // models do it better. The id predates the label and is kept so existing settings still resolve.
    id: 'qwen2.5-coder-0.5b',
    label: 'Qwen2.5-Coder 0.5B Instruct',
    description: 'Alibaba Qwen2.5-Coder 0.5B, Instruct-tuned (no base export exists in the transformers.js layout). ONNX by onnx-community. FIM: <|fim_prefix|>…',
    fim: 'qwen',
    repo: 'onnx-community/Qwen2.5-Coder-0.5B-Instruct',
    revision: 'main',
    files: transformersJsFiles,
    variants: {
      // Listing: model.onnx 0.57 GB + model.onnx_data 1.96 GB.
      fp32: variant('model', 'fp32', true, '≈2.5 GB', LISTING),
      // Listing: model_fp16.onnx 1.26 GB, no _data file listed.
      fp16: variant('model', 'fp16', false, '≈1.3 GB', LISTING),
      // Listing: model_quantized.onnx 0.64 GB (the same bytes as model_int8.onnx / model_uint8.onnx).
      q8: variant('model', 'q8', false, '≈0.64 GB', LISTING),
      // Listing: model_q4.onnx 0.86 GB (larger than int8: transformers.js q4 keeps the embeddings in fp32).
      q4: variant('model', 'q4', false, '≈0.86 GB', LISTING),
    },
    defaultVariant: 'q8',
  },
  {
    // The base model: what fill-in-the-middle wants. The listing shows no fp32 file, so none is offered.
    id: 'qwen2.5-coder-1.5b',
    label: 'Qwen2.5-Coder 1.5B',
    description: 'Alibaba Qwen2.5-Coder 1.5B base (ONNX by onnx-community, transformers.js layout). FIM: <|fim_prefix|>…',
    fim: 'qwen',
    repo: 'onnx-community/Qwen2.5-Coder-1.5B',
    revision: 'main',
    files: transformersJsFiles,
    variants: {
      // Listing: "q8 1.58 GB"; the name model_quantized.onnx is the transformers.js convention for q8 and
      // is not confirmed by the listing itself (it may also carry model_int8.onnx).
      q8: variant('model', 'q8', false, '≈1.6 GB', `${LISTING}; file name from the transformers.js convention`),
      // Listing: q4 1.79 GB.
      q4: variant('model', 'q4', false, '≈1.8 GB', LISTING),
      // Listing: "fp16 + _data 3.1 GB": model_fp16.onnx with its weights in model_fp16.onnx_data.
      fp16: variant('model', 'fp16', true, '≈3.1 GB', LISTING),
    },
    defaultVariant: 'q8',
  },
  {
    // A merged-decoder export (one graph with a boolean `use_cache_branch` input), not model*.onnx.
    id: 'deepseek-coder-1.3b-base',
    label: 'DeepSeek-Coder 1.3B base',
    description: 'DeepSeek-Coder 1.3B base (ONNX merged decoder by Xenova, transformers.js layout). FIM: <｜fim▁begin｜>…',
    fim: 'deepseek-coder',
    repo: 'Xenova/deepseek-coder-1.3b-base',
    revision: 'main',
    files: transformersJsFiles,
    variants: {
      // Listing: decoder_model_merged.onnx "(+ external data)"; the companion's name
      // decoder_model_merged.onnx_data follows the `<name>.onnx_data` convention and is not confirmed.
      // No size listed: 1.35B parameters × 4 bytes ≈ 5.4 GB.
      fp32: variant('decoder_model_merged', 'fp32', true, '≈5.4 GB', `${LISTING}; external-data file name from the <name>.onnx_data convention`),
      // Listing: decoder_model_merged_quantized.onnx, no external data listed (no size listed: 1.35B × 1 byte ≈ 1.4 GB, under 2 GB).
      q8: variant('decoder_model_merged', 'q8', false, '≈1.4 GB', LISTING),
    },
    defaultVariant: 'q8',
  },
];

export function registryEntry(id: string, registry: readonly RegistryEntry[] = MODEL_REGISTRY): RegistryEntry | undefined {
  return registry.find((e) => e.id === id);
}

/** Variants an entry offers, in VARIANTS order. */
export function variantsOf(entry: RegistryEntry): Variant[] {
  return VARIANTS.filter((v) => entry.variants[v]);
}

/** The variant a download of `entry` fetches: the preference when offered, else the entry's default. */
export function downloadVariant(entry: RegistryEntry, preferred: unknown): Variant {
  return isVariant(preferred) && entry.variants[preferred] ? preferred : entry.defaultVariant;
}

/** The files to fetch for an entry in a variant (undefined when the entry does not offer that variant). */
export function filesFor(entry: RegistryEntry, variant: Variant): ModelFile[] | undefined {
  const v = entry.variants[variant];
  return v ? [...entry.files, ...v.files] : undefined;
}

/** The ONNX graph the loader opens for an entry in a variant, relative to the model folder. */
export function onnxFileFor(entry: RegistryEntry, variant: Variant): string | undefined {
  return entry.variants[variant]?.onnx;
}

/** The Hub's download URL layout: <hub>/<repo>/resolve/<revision>/<path>. */
export function resolveUrl(hub: string, repo: string, revision: string, file: string): string {
  return `${hub.replace(/\/$/, '')}/${repo}/resolve/${encodeURIComponent(revision)}/${file.split('/').map(encodeURIComponent).join('/')}`;
}
