// "Sample text": what the result document records (model, temperature, seed, prime) so a sample can be
// told apart from the next one and reproduced, and the temperature a user types.

export interface SampleRecord {
  readonly model: string;
  readonly temperature: number;
  readonly seed: number;
  readonly prime: string;
  readonly length: number;
}

/** The first line of a sample document: `# gatescope sample · LSTM 1×128 on a.txt · temperature 0.8 · seed 7 · 200 tokens after "ROMEO:"`. */
export function sampleHeader(r: SampleRecord): string {
  const after = r.prime ? ` after ${JSON.stringify(r.prime)}` : '';
  return `# gatescope sample · ${r.model.replace(/\s+/g, ' ')} · temperature ${r.temperature} · seed ${r.seed} · ${r.length} tokens${after}`;
}

/** Largest temperature accepted (above it a char model's samples are noise). */
export const MAX_TEMPERATURE = 5;

/** A typed temperature: a number in [0, MAX_TEMPERATURE] (0 is greedy), else undefined. */
export function parseTemperature(text: string): number | undefined {
  const t = text.trim();
  if (!/^(\d+(\.\d*)?|\.\d+)$/.test(t)) return undefined;
  const v = Number(t);
  return v >= 0 && v <= MAX_TEMPERATURE ? v : undefined;
}

/** What each temperature does, for the quick pick. */
export function temperatureNote(t: number): string {
  if (t === 0) return 'greedy: always the most likely token';
  return t < 0.7 ? 'conservative' : t > 0.9 ? 'adventurous' : 'balanced';
}
