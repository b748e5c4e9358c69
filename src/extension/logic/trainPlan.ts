// What "gatescope: Train char LSTM" asks and what it trains, as pure functions: the choices of each prompt
// (defaults first, so Enter through every prompt trains a sensible model) and the run they add up to. A
// labelled-data source (CSV/TSV/JSON Lines/fastText file, folder of class folders) proposes a sequence
// classifier; any other text trains a language model as before. No vscode: the command shows these.
import type { TrainSettings } from '../../core/checkpoint';
import type { RnnModule } from '../../core/config';
import type { Readout } from '../../core/model';
import type { ModelShape } from '../../core/train/model';
import { runCadence } from '../../core/train/settings';
import { trainingMultiplyAddsPerToken } from '../../core/train/cost';

/** What src/node/classificationFiles.ts detectClassificationSource recognises. */
export type DataFormat = 'csv' | 'tsv' | 'jsonl' | 'fasttext' | 'folders';

/** lm: a char language model; classify-words / classify-chars: a sequence classifier over words or characters. */
export type TrainTask = 'lm' | 'classify-words' | 'classify-chars';

export const isClassifier = (task: TrainTask): boolean => task !== 'lm';

/** nn.Embedding widths of the classifiers: words need more room than characters. */
export const EMBEDDING_DIM: Record<Exclude<TrainTask, 'lm'>, number> = { 'classify-words': 64, 'classify-chars': 32 };
/** Word classifiers read words seen at least this often; rarer ones become <unk>. */
export const WORD_MIN_FREQ = 2;

const FORMAT_NAMES: Record<DataFormat, string> = {
  csv: 'CSV', tsv: 'TSV', jsonl: 'JSON Lines', fasttext: 'fastText', folders: 'class folders',
};

export interface TaskChoice {
  readonly task: TrainTask;
  readonly label: string;
  readonly description: string;
  readonly detail: string;
}

/**
 * The tasks for a labelled-data source, default first: a word-level classifier (the usual choice for text
 * classification), a char-level one, and (a file only) a language model on the file's raw text.
 */
export function taskChoices(format: DataFormat): TaskChoice[] {
  const what = FORMAT_NAMES[format];
  const choices: TaskChoice[] = [
    {
      task: 'classify-words', label: 'Sequence classifier over words', description: `default · labelled examples (${what})`,
      detail: `Embedding(${EMBEDDING_DIM['classify-words']}) → recurrent layers → last state → classes; words seen ${WORD_MIN_FREQ}+ times`,
    },
    {
      task: 'classify-chars', label: 'Sequence classifier over characters', description: `labelled examples (${what})`,
      detail: `Embedding(${EMBEDDING_DIM['classify-chars']}) → recurrent layers → last state → classes`,
    },
  ];
  if (format !== 'folders') {
    choices.push({ task: 'lm', label: 'Char language model on the raw text', description: 'ignores the labels', detail: 'one-hot characters → recurrent layers → next character' });
  }
  return choices;
}

export interface CellChoice {
  readonly module: RnnModule;
  readonly bidirectional: boolean;
  readonly label: string;
  readonly description: string;
}

const CELL_NOTES: Record<RnnModule, string> = { LSTM: '', GRU: '', RNN: 'Elman tanh RNN' };

/**
 * The recurrent cell, default module first. A classifier may also read both ways (bidirectional): it sees the
 * whole text before deciding, so its hover shows the whole document's prediction rather than one per token.
 */
export function cellChoices(task: TrainTask, defaultModule: RnnModule): CellChoice[] {
  const modules = (['LSTM', 'GRU', 'RNN'] as const).slice().sort((a, b) => (a === defaultModule ? -1 : b === defaultModule ? 1 : 0));
  const out: CellChoice[] = [];
  for (const m of modules) {
    const note = [m === defaultModule ? 'default' : '', CELL_NOTES[m]].filter(Boolean).join(' · ');
    out.push({ module: m, bidirectional: false, label: m, description: note });
    if (isClassifier(task)) out.push({ module: m, bidirectional: true, label: `${m}, bidirectional`, description: 'reads the text both ways' });
  }
  return out;
}

export interface SizeChoice {
  readonly numLayers: number;
  readonly hiddenSize: number;
  readonly label: string;
  readonly description: string;
}

/** What a size's hint is computed from: the cell, the input and output widths, the run's length, a measured rate. */
export interface SizeCost {
  readonly module: RnnModule;
  readonly bidirectional: boolean;
  /** One-hot width (the text's distinct characters) or the embedding dimension. */
  readonly inputSize: number;
  /** Outputs at every token (a language model's vocabulary), 0 for a classifier. */
  readonly perTokenOutputs: number;
  readonly steps: number;
  readonly tokensPerStep: number;
  /** Multiply-adds per second this machine trained at on an earlier run; unknown before the first. */
  readonly multiplyAddsPerSecond?: number;
}

/** "about 40 s", "about 3 min", "about 1.5 h". */
export function roughDuration(seconds: number): string {
  if (seconds < 90) return `about ${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 5400) return `about ${Math.round(seconds / 60)} min`;
  return `about ${Number((seconds / 3600).toFixed(1))} h`;
}

/**
 * Layers × hidden units: the settings' size first, then a few common ones (no duplicates). With `cost`, each
 * says how long the run would take at the rate an earlier run measured, else its work relative to the first.
 */
export function sizeChoices(hiddenSize: number, numLayers: number, cost?: SizeCost): SizeChoice[] {
  const sizes: [number, number, string][] = [[numLayers, hiddenSize, 'default (settings)'], [1, 64, 'fast'], [1, 128, ''], [2, 128, ''], [1, 256, 'slower, better'], [2, 256, 'slow'], [1, 512, 'slowest']];
  const seen = new Set<string>();
  const unique = sizes.filter(([l, h]) => !seen.has(`${l}x${h}`) && seen.add(`${l}x${h}`));
  const work = (l: number, h: number): number => (cost ? trainingMultiplyAddsPerToken({ ...cost, numLayers: l, hiddenSize: h }) : 0);
  const hint = (l: number, h: number): string => {
    if (!cost) return '';
    if (cost.multiplyAddsPerSecond) return `${roughDuration(cost.steps * cost.tokensPerStep * work(l, h) / cost.multiplyAddsPerSecond)} for ${cost.steps.toLocaleString('en-US')} steps`;
    const [l0, h0] = unique[0];
    return l === l0 && h === h0 ? '' : `${Number((work(l, h) / work(l0, h0)).toPrecision(2))}× the time of ${l0} × ${h0}`;
  };
  return unique.map(([l, h, d]) => ({ numLayers: l, hiddenSize: h, label: `${l} × ${h}`, description: [d, hint(l, h)].filter(Boolean).join(' · ') }));
}

/** A positive whole number of steps, or the message the input box shows. */
export function validateSteps(text: string): string | undefined {
  return /^\d+$/.test(text.trim()) && Number(text) > 0 ? undefined : 'a positive whole number of steps';
}

/** The prompt titles: "Train classifier (2/4): cell". */
export function promptTitle(task: TrainTask, step: number, steps: number, what: string): string {
  return `Train ${isClassifier(task) ? 'classifier' : 'char model'} (${step}/${steps}): ${what}`;
}

export interface TrainAnswers {
  readonly task: TrainTask;
  readonly module: RnnModule;
  readonly bidirectional: boolean;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly steps: number;
  /** The source as the user knows it: a file name, "selection of notes.md", "3 files". */
  readonly sourceLabel: string;
  /** Classifier readout (default last). */
  readonly readout?: Exclude<Readout, 'per_step'>;
  /** Classifier embedding width (default EMBEDDING_DIM of the task). */
  readonly embeddingDim?: number;
}

/** The settings the run takes from the user's configuration. */
export interface TrainDefaults {
  readonly seqLen: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly sampleLength: number;
}

export interface TrainPlan {
  /** The run's name in the dashboard, tree and notifications: "GRU 1×64 bidirectional classifier on reviews.csv". */
  readonly label: string;
  /** The checkpoint file's name, before the time stamp. */
  readonly fileStem: string;
  readonly level: 'char' | 'word';
  readonly minFreq?: number;
  readonly model: Partial<ModelShape>;
  readonly settings: Partial<TrainSettings>;
}

/** The run the answers describe (everything TrainRequest needs but the data and the output path). */
export function trainPlan(a: TrainAnswers, d: TrainDefaults): TrainPlan {
  const { evalEvery, sampleEvery } = runCadence(a.steps);
  const optimizer = { kind: 'adam' as const, lr: d.learningRate };
  const shape = `${a.module} ${a.numLayers}×${a.hiddenSize}${a.bidirectional ? ' bidirectional' : ''}`;
  if (a.task === 'lm') {
    return {
      label: `${shape} on ${a.sourceLabel}`,
      fileStem: `${a.sourceLabel}-${a.module}-${a.hiddenSize}`,
      level: 'char',
      model: { module: a.module, hiddenSize: a.hiddenSize, numLayers: a.numLayers, ...(a.bidirectional ? { bidirectional: true } : {}) },
      settings: {
        steps: a.steps, seqLen: d.seqLen, batchSize: d.batchSize, optimizer, evalEvery,
        sampleEvery, sampleLength: Math.min(200, d.sampleLength),
      },
    };
  }
  const words = a.task === 'classify-words';
  return {
    label: `${shape} classifier on ${a.sourceLabel}`,
    fileStem: `${a.sourceLabel}-${a.module}-${a.hiddenSize}${a.bidirectional ? '-bi' : ''}-classifier`,
    level: words ? 'word' : 'char',
    ...(words ? { minFreq: WORD_MIN_FREQ } : {}),
    model: {
      module: a.module, hiddenSize: a.hiddenSize, numLayers: a.numLayers, bidirectional: a.bidirectional,
      embeddingDim: a.embeddingDim ?? EMBEDDING_DIM[a.task], readout: a.readout ?? 'last',
    },
    settings: { steps: a.steps, batchSize: d.batchSize, optimizer, evalEvery, sampleEvery: 0 },
  };
}
