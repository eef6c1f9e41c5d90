// The loader, FIM prompts, the KV cache and PIE on small random-weight stand-ins of the Hub's real
// exports (made by scripts/standins/make_standins.py with transformers' own model classes): Qwen2
// (external data, int8, fp16 with a float16 cache), DeepSeek-Coder as Llama (merged decoder with
// use_cache_branch, linear RoPE x4 under transformers 5's rope_parameters), StarCoder2 (LayerNorm with
// bias, GQA) and the same StarCoder2 exported without position_ids. Expected logits are the ones
// transformers and Python's onnxruntime gave for the same input (expected.json beside each fixture).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CodeModel } from '../../../model/codeModel.js';
import { ModelError } from '../../../model/errors.js';
import { generateAll } from '../../../model/generate.js';
import type { KvCache } from '../../../model/kvCache.js';
import { float16ToNumber } from '../../../model/pie/float16.js';
import { PieRepositioner } from '../../../model/pie/repositioner.js';
import { RotaryShifter, resolveRotary } from '../../../model/pie/rotary.js';
import type { ModelVariant } from '../../../model/onnxSession.js';
import { argmax } from '../../../model/sampling.js';
import { maxAbsDiff, range } from '../model/testModel.js';

const fixtures = path.resolve(__dirname, '../../fixtures/models');

interface Expected {
  input_ids: number[];
  probe_ids: number[];
  tokenizer: { text: string; ids: number[] };
  torch: { last: number[]; rows_at_probe: number[][] };
  onnx: Record<string, { last: number[] }>;
  rotary: { inv_freq: number[]; attention_scaling: number };
}

interface Case {
  fixture: string;
  variant: ModelVariant;
  file: string;
  /** fp32 graphs match transformers to float32 arithmetic; int8/fp16 ones only approximately. */
  numerics: 'exact' | 'fp16' | 'int8' | 'q4';
  family: string;
  /** The family's FIM markers (prefix, suffix, middle); undefined: a left-to-right model. */
  fim?: [string, string, string];
  bos?: string;
  kvDtype: 'float32' | 'float16';
  positionIds: boolean;
  merged: boolean;
}

const qwenFim: [string, string, string] = ['<|fim_prefix|>', '<|fim_suffix|>', '<|fim_middle|>'];
const deepseekFim: [string, string, string] = ['<｜fim▁begin｜>', '<｜fim▁hole｜>', '<｜fim▁end｜>'];
const starFim: [string, string, string] = ['<fim_prefix>', '<fim_suffix>', '<fim_middle>'];
const base = { kvDtype: 'float32', positionIds: true, merged: false } as const;
const cases: Case[] = [
  { ...base, fixture: 'qwen2', variant: 'default', file: 'model.onnx', numerics: 'exact', family: 'qwen2.5-coder', fim: qwenFim },
  { ...base, fixture: 'qwen2', variant: 'quantized', file: 'model_quantized.onnx', numerics: 'int8', family: 'qwen2.5-coder', fim: qwenFim },
  { ...base, fixture: 'qwen2', variant: 'q4', file: 'model_q4.onnx', numerics: 'q4', family: 'qwen2.5-coder', fim: qwenFim },
  { ...base, fixture: 'qwen2', variant: 'fp16', file: 'model_fp16.onnx', numerics: 'fp16', family: 'qwen2.5-coder', fim: qwenFim, kvDtype: 'float16' },
  { ...base, fixture: 'deepseek-coder', variant: 'default', file: 'decoder_model_merged.onnx', numerics: 'exact', family: 'deepseek-coder', fim: deepseekFim, bos: '<｜begin▁of▁sentence｜>', merged: true },
  { ...base, fixture: 'deepseek-coder', variant: 'quantized', file: 'decoder_model_merged_quantized.onnx', numerics: 'int8', family: 'deepseek-coder', fim: deepseekFim, bos: '<｜begin▁of▁sentence｜>', merged: true },
  { ...base, fixture: 'starcoder2', variant: 'default', file: 'model.onnx', numerics: 'exact', family: 'starcoder', fim: starFim },
  { ...base, fixture: 'starcoder2', variant: 'quantized', file: 'model_quantized.onnx', numerics: 'int8', family: 'starcoder', fim: starFim },
  { ...base, fixture: 'starcoder2-nopos', variant: 'default', file: 'model.onnx', numerics: 'exact', family: 'starcoder', fim: starFim, positionIds: false },
  // GPT-J/CodeGen-style: interleaved rotary pairs on the first 8 of 16 dims, no FIM.
  { ...base, fixture: 'gptj', variant: 'default', file: 'model.onnx', numerics: 'exact', family: 'plain' },
];


const maxAbs = (a: ArrayLike<number>): number => maxAbsDiff(a, new Float32Array(a.length));
/** A cache layer as numbers (float16 caches are raw halves). */
function layer(cache: KvCache, part: 'keys' | 'values', l: number): Float32Array {
  const data = cache[part](l);
  return data instanceof Float32Array ? data : Float32Array.from(data, float16ToNumber);
}

const source = [
  'export class Ledger {\n',
  '  private readonly entries: number[] = [];\n',
  '  add(amount: number): this {\n',
  '    this.entries.push(amount);\n',
  '    return this;\n',
  '  }\n',
  '  total(): number {\n',
  '    return this.entries.reduce((sum, x) => sum + x, 0);\n',
  '  }\n',
  '}\n',
].join('');

for (const c of cases) {
  describe(`stand-in ${c.fixture} (${c.file})`, () => {
    const dir = path.join(fixtures, c.fixture);
    const expected = JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8')) as Expected;
    // Logits of these stand-ins reach ~5: int8 (dynamic activation quantization) and fp16 move them by
    // a few tenths and a few hundredths, 4-bit blocks of random weights by a couple of units; float32
    // graphs by float32 rounding only. Python onnxruntime on the same file is the tight reference.
    const scale = maxAbs(expected.torch.last);
    const vsTorch = { exact: 1e-4, fp16: 0.02 * scale, int8: 0.25 * scale, q4: 0.6 * scale }[c.numerics];
    let model: CodeModel;
    before(async () => {
      model = await CodeModel.load(dir, { variant: c.variant });
    });
    after(() => model?.dispose());

    it('loads the Hub layout: file, KV dtype, position_ids and merged-decoder flags', () => {
      assert.equal(path.basename(model.session.file), c.file);
      assert.equal(model.session.kvDtype, c.kvDtype);
      assert.equal(model.session.hasPositionIds, c.positionIds);
      assert.equal(model.session.isMergedDecoder, c.merged);
    });

    it("reads the rotation transformers uses for this config (θ, scaling) so PIE rotates by it", () => {
      const support = resolveRotary(model.config);
      assert.ok(support.ok, support.ok ? '' : support.reason);
      assert.equal(expected.rotary.attention_scaling, 1);
      const inv = support.spec.invFreq;
      assert.equal(inv.length, expected.rotary.inv_freq.length);
      for (let i = 0; i < inv.length; i++) {
        const want = expected.rotary.inv_freq[i];
        assert.ok(Math.abs(inv[i] - want) <= 1e-6 * want, `θ_${i}: ${inv[i]} vs transformers' ${want}`);
      }
    });

    it("tokenizes as Hugging Face's tokenizers library does", () => {
      const text = expected.tokenizer.text;
      assert.deepEqual(model.tokenizer.encode(text), expected.tokenizer.ids);
      // Qwen2's tokenizer normalizes to NFC (the decomposed é comes back composed); the others are byte-exact.
      assert.equal(model.tokenizer.decode(model.tokenizer.encode(text)), c.fixture === 'qwen2' ? text.normalize('NFC') : text);
      assert.notEqual(text, text.normalize('NFC'), 'the sample has an NFC-sensitive character (the test can fail)');
      // A special token typed in the source is text, never the token.
      const special = c.fim?.[0] ?? '<|endoftext|>';
      const marker = model.tokenizer.tokenId(special)!;
      assert.notEqual(marker, undefined);
      assert.ok(!model.tokenizer.encode(`// ${special} here`).includes(marker));
    });

    it('gives the logits of transformers and of Python onnxruntime for the same input', async () => {
      const ids = expected.input_ids;
      const r = await model.session.forward(ids, null, { allLogits: true });
      const V = model.config.vocabSize;
      const last = r.logits.subarray((ids.length - 1) * V);
      const dOrt = maxAbsDiff(last, expected.onnx[c.file].last);
      const dTorch = maxAbsDiff(last, expected.torch.last);
      assert.ok(dOrt <= 1e-4 + (c.numerics === 'exact' ? 0 : 1e-3 * scale), `|node - python onnxruntime| = ${dOrt}`);
      assert.ok(dTorch <= vsTorch, `|onnx - transformers| = ${dTorch} (allowed ${vsTorch})`);
      if (c.numerics === 'exact') {
        for (let row = 0; row < ids.length; row++) {
          const got = expected.probe_ids.map((id) => r.logits[row * V + id]);
          assert.ok(maxAbsDiff(got, expected.torch.rows_at_probe[row]) <= 1e-4, `row ${row}`);
        }
      }
      // With a cache (the merged decoder's other branch) the same rows come out.
      const head = await model.session.forward(ids.slice(0, 12), null);
      const tail = await model.session.forward(ids.slice(12), head.cache, { allLogits: true });
      const dCache = maxAbsDiff(tail.logits, r.logits.subarray(12 * V));
      const cacheTolerance = { exact: 1e-4, q4: 1e-4, fp16: 1e-2 * scale, int8: 0.15 * scale }[c.numerics];
      assert.ok(dCache <= cacheTolerance, `|cached - uncached| = ${dCache}`);
      for (const x of [r, head, tail]) x.cache.dispose();
    });

    it("builds the FIM prompt with the family's own tokens (plain when it has none) and completes with it", async () => {
      const at = source.indexOf('this.entries.push(') + 'this.entries.'.length;
      const prefix = source.slice(0, at);
      const suffix = source.slice(at);
      const prompt = model.buildPrompt(prefix, suffix);
      if (!c.fim) {
        assert.equal(prompt.format, 'plain');
        assert.deepEqual(prompt.ids, model.tokenizer.encode(prefix));
        const out = await model.complete(prefix, suffix, { maxTokens: 8, stop: [] });
        assert.equal(out.tokens.length, 8);
        return;
      }
      assert.equal(prompt.format, `fim:${c.family}`);
      const id = (t: string) => {
        const v = model.tokenizer.tokenId(t);
        assert.notEqual(v, undefined, `${t} in the tokenizer`);
        return v!;
      };
      const pre = model.tokenizer.encode(prefix);
      const suf = model.tokenizer.encode(suffix);
      const head = c.bos ? [id(c.bos)] : [];
      assert.deepEqual(prompt.ids, [...head, id(c.fim[0]), ...pre, id(c.fim[1]), ...suf, id(c.fim[2])]);
      const out = await model.complete(prefix, suffix, { maxTokens: 8, stop: [] });
      assert.ok(out.tokens.length >= 1 && out.tokens.length <= 8);
      assert.ok(out.tokens.every((t) => t >= 0 && t < model.config.vocabSize));
    });

    it('decodes the same tokens with the KV cache as by recomputing every step', async () => {
      const prompt = model.buildPrompt('function area(width: number, height: number) {\n  return', '\n}\n');
      const steps = 12;
      const withCache = await generateAll(model.session, model.tokenizer, prompt, { maxTokens: steps, stop: [], eosIds: [] });
      const seq = [...prompt.ids];
      const noCache: number[] = [];
      let worst = 0;
      for (let i = 0; i < steps; i++) {
        const r = await model.session.forward(seq, null);
        r.cache.dispose();
        const next = argmax(r.logits);
        noCache.push(next);
        seq.push(withCache.tokens[i] ?? next);
        if (c.numerics === 'int8') {
          // Dynamic int8 quantization scales activations per call, so one pass over the sequence and
          // a cached step differ a little: compare the logits of the cached step instead of tokens.
          const prefixIds = seq.slice(0, -1);
          const cachedHead = await model.session.forward(prefixIds.slice(0, -1), null);
          const step = await model.session.forward(prefixIds.slice(-1), cachedHead.cache);
          worst = Math.max(worst, maxAbsDiff(step.logits, r.logits));
          cachedHead.cache.dispose();
          step.cache.dispose();
        }
      }
      assert.equal(withCache.tokens.length, steps);
      if (c.numerics === 'int8') assert.ok(worst <= 0.15 * scale, `int8 cached vs recomputed logits differ by ${worst}`);
      else assert.deepEqual(withCache.tokens, noCache);
    });

    it('PIE shift is exact: keys rotated by Δ equal the keys encoded at positions + Δ', async (t) => {
      if (!c.positionIds) {
        t.skip('no position_ids input: covered against the same weights with position_ids below');
        return;
      }
      const support = resolveRotary(model.config);
      assert.ok(support.ok);
      const shifter = new RotaryShifter(support.spec);
      const tokens = model.tokenizer.encode(source).slice(0, 48);
      const n = tokens.length;
      for (const [from, delta] of [[0, 37], [0, 900], [400, -385]]) {
        const moved = await model.session.forward(tokens, null, { positions: range(from, from + n) });
        const target = await model.session.forward(tokens, null, { positions: range(from + delta, from + delta + n) });
        assert.ok(maxAbsDiff(layer(moved.cache, 'keys', 0), layer(target.cache, 'keys', 0)) > 1e-2, 'the shift changes the keys (the test can fail)');
        shifter.shiftKeys(moved.cache, 0, n, delta, from);
        for (let l = 0; l < model.config.numLayers; l++) {
          const got = layer(moved.cache, 'keys', l);
          const want = layer(target.cache, 'keys', l);
          const keyErr = maxAbsDiff(got, want);
          // Deeper layers see attention outputs: the model is translation-invariant only up to its own
          // arithmetic noise (visible in the values, which carry no rotation). A float16 graph rotates in
          // float16 (cos/sin and products rounded to 2^-11 relative) and the shifted key is rounded again:
          // a few float16 ulps of the keys' scale.
          const noise = maxAbsDiff(layer(moved.cache, 'values', l), layer(target.cache, 'values', l));
          const keyScale = Math.max(1, maxAbs(want));
          const allowed = (c.kvDtype === 'float16' ? 4 * 2 ** -10 : 1e-4) * keyScale + 2 * noise;
          assert.ok(keyErr <= allowed, `shift ${from}→${from + delta}, layer ${l}: keys ${keyErr.toExponential(2)} (allowed ${allowed.toExponential(2)}, value noise ${noise.toExponential(2)})`);
        }
        moved.cache.dispose();
        target.cache.dispose();
      }
    });

    it('PIE after a mid-prompt edit: rotated suffix, exact prefix, next-token logits close to full recomputation', async () => {
      const pie = new PieRepositioner(model.session);
      const old = model.tokenizer.encode(source);
      const at = source.indexOf('  total(');
      const edited = model.tokenizer.encode(source.slice(0, at) + '  count = 0;\n' + source.slice(at));
      const first = await pie.rebuild(undefined, old, 'full');
      const rebuilt = await pie.rebuild({ tokens: old, cache: first.cache }, edited, 'pie');
      const full = await pie.rebuild(undefined, edited, 'full');
      assert.equal(rebuilt.cache.length, edited.length);
      assert.ok(rebuilt.rotatedTokens > 0, 'the suffix moved');
      assert.ok(rebuilt.encodedTokens < edited.length, 'PIE encoded less than everything');
      // Rows before the edit are the prefix's own: identical to full recomputation.
      const prefixRows = rebuilt.exactPrefix;
      assert.ok(prefixRows > 0);
      for (let l = 0; l < model.config.numLayers; l++) {
        const want = layer(full.cache.slice(0, prefixRows), 'keys', l);
        const d = maxAbsDiff(layer(rebuilt.cache.slice(0, prefixRows), 'keys', l), want);
        // int8: activations are quantized per call, so the same rows from two calls differ a little.
        const allowed = { exact: 1e-4, q4: 1e-4, fp16: 2e-3, int8: 0.1 }[c.numerics] * Math.max(1, maxAbs(want));
        assert.ok(d <= allowed, `layer ${l} prefix keys differ by ${d} (allowed ${allowed})`);
      }
      assert.ok(rebuilt.logits && full.logits);
      // Random weights make the suffix's stale states matter more than in a trained model; still the
      // logits stay in the range of full recomputation rather than anywhere.
      const d = maxAbsDiff(rebuilt.logits, full.logits);
      assert.ok(Number.isFinite(d) && d < 4 * scale, `PIE vs full: ${d}`);
      for (const r of [first, rebuilt, full]) r.cache.dispose();
    });
  });
}

describe('stand-in without position_ids (StarCoder2, same weights as the one with them)', () => {
  let nopos: CodeModel;
  let withPos: CodeModel;
  before(async () => {
    nopos = await CodeModel.load(path.join(fixtures, 'starcoder2-nopos'));
    withPos = await CodeModel.load(path.join(fixtures, 'starcoder2'));
  });
  after(async () => {
    await nopos?.dispose();
    await withPos?.dispose();
  });

  it('PIE works without passing positions: the rebuilt cache equals the one built with position_ids', async () => {
    const old = nopos.tokenizer.encode(source);
    const at = source.indexOf('  add(');
    const edited = nopos.tokenizer.encode(source.slice(0, at) + '  readonly name = "cash";\n' + source.slice(at));
    const results: { cache: KvCache; logits: Float32Array | undefined }[] = [];
    for (const m of [nopos, withPos]) {
      const pie = new PieRepositioner(m.session);
      assert.ok(pie.rotary.ok);
      const first = await pie.rebuild(undefined, old, 'full');
      const r = await pie.rebuild({ tokens: old, cache: first.cache }, edited, 'pie');
      assert.ok(r.rotatedTokens > 0);
      first.cache.dispose();
      results.push(r);
    }
    for (let l = 0; l < nopos.config.numLayers; l++) {
      assert.ok(maxAbsDiff(results[0].cache.keys(l), results[1].cache.keys(l)) <= 1e-4, `keys of layer ${l}`);
      assert.ok(maxAbsDiff(results[0].cache.values(l), results[1].cache.values(l)) <= 1e-4, `values of layer ${l}`);
    }
    assert.ok(maxAbsDiff(results[0].logits!, results[1].logits!) <= 1e-4);
    for (const r of results) r.cache.dispose();
  });

  it('refuses explicit positions other than the implied ones, with a clear error', async () => {
    const ids = nopos.tokenizer.encode('const x = 1;');
    const implied = await nopos.session.forward(ids, null, { positions: range(0, ids.length) });
    implied.cache.dispose();
    await assert.rejects(nopos.session.forward(ids, null, { positions: range(5, 5 + ids.length) }), (e: unknown) => e instanceof ModelError && /no position_ids input/.test(e.message));
  });
});

describe('stand-in files missing or wrong', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tg-standin-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const copy = (fixture: string, skip: (f: string) => boolean): string => {
    const dir = path.join(tmp, `${fixture}-${fs.readdirSync(tmp).length}`);
    fs.cpSync(path.join(fixtures, fixture), dir, { recursive: true, filter: (src) => !skip(path.basename(src)) });
    return dir;
  };

  it('reads the same rotation from the transformers 4.x form of a config.json as from the 5 form', async () => {
    // deepseek-coder's config.json is in the transformers 5 form; the Hub's export carries the 4.x one.
    const dir = copy('deepseek-coder', () => false);
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    const rp = cfg.rope_parameters as { rope_type: string; rope_theta: number; factor: number };
    assert.equal(rp.rope_type, 'linear', 'the fixture is in the transformers 5 form');
    delete cfg.rope_parameters;
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...cfg, rope_theta: rp.rope_theta, rope_scaling: { type: 'linear', factor: rp.factor } }));
    const v4 = await CodeModel.load(dir);
    const v5 = await CodeModel.load(path.join(fixtures, 'deepseek-coder'));
    try {
      const a = resolveRotary(v4.config);
      const b = resolveRotary(v5.config);
      assert.ok(a.ok && b.ok);
      assert.deepEqual([...a.spec.invFreq], [...b.spec.invFreq]);
      assert.equal(v4.config.ropeTheta, 100000);
    } finally {
      await v4.dispose();
      await v5.dispose();
    }
  });

  it('names the missing external-data file', async () => {
    const dir = copy('qwen2', (f) => f === 'model.onnx_data');
    await assert.rejects(CodeModel.load(dir), (e: unknown) => e instanceof ModelError && /model\.onnx_data, which is missing/.test(e.message));
  });

  it('says which files a variant may be when none is there', async () => {
    await assert.rejects(CodeModel.load(path.join(fixtures, 'deepseek-coder'), { variant: 'q4' }),
      (e: unknown) => e instanceof ModelError && /model_q4\.onnx or decoder_model_merged_q4\.onnx/.test(e.message));
  });

  it('refuses an export whose KV tensors are [batch, seq, kv_heads, head_dim], once, naming the layout it expects', async () => {
    await assert.rejects(CodeModel.load(path.join(fixtures, 'kv-layout-bshd')),
      (e: unknown) => e instanceof ModelError && /past_key_values\.0\.key has shape \[batch_size, past_sequence_length, 2, 16\]; expected \[batch, kv_heads = 2, seq, head_dim = 16\]/.test(e.message));
  });

  it('refuses an export whose KV layout shows only when it runs (all dims symbolic), at load, with one message', async () => {
    await assert.rejects(CodeModel.load(path.join(fixtures, 'kv-layout-bshd-dynamic')),
      (e: unknown) => e instanceof ModelError && /does not run with the KV cache as \[batch, kv_heads = 2, seq, head_dim = 16\]/.test(e.message) && /probe with an empty cache failed/.test(e.message));
  });

  it('refuses a config.json whose KV heads disagree with the export', async () => {
    const dir = copy('starcoder2', () => false);
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...cfg, num_key_value_heads: 4 }));
    await assert.rejects(CodeModel.load(dir), (e: unknown) => e instanceof ModelError && /heads/.test(e.message));
  });
});

