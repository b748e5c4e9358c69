// The seed notebook's experiment: "is the next word in the vocabulary (1) or <unk> (0)?" over windows of
// `context` words. Reproduces test/fixtures/gen_pytorch.py `seed000_trajectory` exactly, quirks included:
// the vocabulary counts only words of lines with digit- and capital-containing words blanked out, and
// "i" is appended when that filter removed it.
import { basicEnglish, frequentWords, countWords, splitLinesKeepEnds } from './wordVocab';

export interface SeedTaskData {
  readonly vocab: readonly string[]; // '<unk>' first
  readonly ids: Int32Array; // every word of the text, encoded
  readonly context: number;
  /** [n, context] row-major windows of word ids. */
  readonly contexts: Int32Array;
  /** [n] 1 when the word after the window is known, 0 when it is <unk>. */
  readonly targets: Float64Array;
}

// Python's \w is Unicode-aware; JS's is ASCII-only, so spell it out.
const WORD_WITH_DIGIT = /[\p{L}\p{N}_]*[0-9]+[\p{L}\p{N}_]*/gu;
const WORD_WITH_CAPITAL = /[\p{L}\p{N}_]*[A-Z]+[\p{L}\p{N}_]*/gu;

export function seedVocabulary(text: string, minFreq: number): string[] {
  const lines = splitLinesKeepEnds(text);
  const counted = lines.flatMap((line) =>
    basicEnglish(line.replace(WORD_WITH_DIGIT, ' ').replace(WORD_WITH_CAPITAL, ' ').replace(/\s+/g, ' ')),
  );
  const kept = frequentWords(countWords(counted), minFreq);
  return ['<unk>', ...kept, ...(kept.includes('i') ? [] : ['i'])];
}

export function seedTaskData(text: string, options: { minFreq: number; context: number }): SeedTaskData {
  const vocab = seedVocabulary(text, options.minFreq);
  const index = new Map(vocab.map((w, i) => [w, i]));
  const words = splitLinesKeepEnds(text).flatMap(basicEnglish);
  const ids = Int32Array.from(words, (w) => index.get(w) ?? 0);
  const L = options.context;
  const n = Math.max(0, ids.length - L);
  const contexts = new Int32Array(n * L);
  const targets = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    contexts.set(ids.subarray(i, i + L), i * L);
    targets[i] = ids[i + L] === 0 ? 0 : 1;
  }
  return { vocab, ids, context: L, contexts, targets };
}
