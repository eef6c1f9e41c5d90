// The model engine's public surface. Other folders import from here (language-monitor/: types only).
import path from 'node:path';

export { CodeModel, type Prompt, type PromptOptions } from './codeModel.js';
export { loadModelConfig, type ModelConfig, type RopeScaling } from './config.js';
export { decodeDocument, maxDocumentBytes, readDocument, splitAt, type SplitDocument } from './document.js';
export { ModelError } from './errors.js';
export { fimTemplates, selectFimTemplate, typeguideTemplate } from './fim.js';
export { generate, generateAll, type EngineOptions, type ForwardModel, type GenerationOutcome, type PromptInput } from './generate.js';
export { KvCache, floatToHalf, halfToFloat, type KvArray, type KvDtype, type KvShape } from './kvCache.js';
export { OnnxCausalLm, variantFiles, type ForwardOptions, type ForwardResult, type ModelVariant, type RawRunner, type SessionOptions } from './onnxSession.js';
export { argmax, sampleToken, seededRandom } from './sampling.js';
export { StopChecker } from './stopRules.js';
export { HfTokenizer } from './tokenizer.js';
export type * from './types.js';

/** The model shipped with TypeGuide (model/default-model/). */
export const defaultModelDir = path.join(__dirname, 'default-model');
