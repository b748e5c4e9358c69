// "Open model…" (with its questions and the saved model file), "Sample text", "Use this model".
import * as vscode from 'vscode';
import type { Gatescope } from '../context';
import { basename, dirname, join } from 'node:path';
import { randomInt } from 'node:crypto';
import { MAX_TEMPERATURE, parseTemperature, sampleHeader, temperatureNote } from '../logic/sampleText';
import { serializeCheckpoint } from '../../core/checkpoint';
import type { ModelData, OpenQuestion } from '../../protocol/worker';
import { requireTrust } from './trust';
import { answeredWords, questionPrompt } from '../logic/openAnswers';
import { taskOf } from '../../core/model';
import { describeModel, isTraceable, type ModelEntry, openedEntry, type TraceableModel } from '../services/modelStore';
import { readSettings } from '../settings';
import { modelIdOf } from '../tree/modelsTree';
import { isWorkerCrash } from '../services/workerBackend';

export const MODEL_FILTERS: Record<string, string[]> = {
  'Models': ['safetensors', 'pt', 'pth', 'bin', 'h5', 'keras', 'onnx', 'json', 'npz', 'npy'],
  'All files': ['*'],
};

export interface OpenModelCommandOptions {
  readonly path?: string;
  /** Answers given up front, as the CLI's flags (`{ vocab: '/x/vocab.json' }`): scripts and tests. */
  readonly answers?: Readonly<Record<string, string | string[]>>;
  /** Answer to "save a gatescope model file next to it?" without asking (tests): save, or not. */
  readonly save?: boolean;
}

/**
 * "Open model…": a gatescope model file as it is; any other (a state_dict or whole torch.save model, Keras,
 * tfjs, ONNX, npz, recurrentjs) opened as a model to run, asking in quick picks what the file does not
 * record (vocabulary, gate order, module, activation, ...) and loading again with each answer. Once anything
 * was answered, offers to save a gatescope model file next to the original (it records all of it), which the
 * next "Open model…" of that file uses, so the questions are asked once. Weights without a vocabulary open for
 * comparisons and do not take over from a traceable current model.
 */
export async function openModel(g: Gatescope, arg?: unknown): Promise<string | undefined> {
  let path: string | undefined;
  let o: OpenModelCommandOptions = {};
  if (arg instanceof vscode.Uri) path = arg.fsPath;
  else if (typeof arg === 'string') path = arg;
  else if (arg && typeof arg === 'object' && typeof (arg as OpenModelCommandOptions).path === 'string') {
    o = arg as OpenModelCommandOptions;
    path = o.path;
  } else {
    const uris = await vscode.window.showOpenDialog({
      canSelectMany: false, filters: MODEL_FILTERS, openLabel: 'Open model', title: 'Open model: a gatescope, PyTorch, Keras, TensorFlow.js, ONNX or NumPy file',
      defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
    });
    path = uris?.[0]?.fsPath;
  }
  if (!path) return undefined;
  let entry: ModelEntry | undefined;
  try {
    entry = await openAsking(g, path, o);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    g.output.error(`open model: ${message}`);
    // A worker crash (e.g. out of memory) was announced already, naming the file.
    if (!isWorkerCrash(err)) void vscode.window.showErrorMessage(`gatescope: cannot open ${path}: ${message}`);
    return undefined;
  }
  if (!entry) return undefined;
  const before = g.models.current;
  g.models.add(entry);
  g.traces.removeModel(entry.id);
  const traceable = entry.data ? '' : ' (no vocabulary: comparisons only)';
  const kept = g.models.current?.id !== entry.id && before ? `; ${before.label} stays the current model` : '';
  g.output.info(`opened ${entry.path ?? path}: ${describeModel(entry)}${traceable}${kept}`);
  void vscode.window.setStatusBarMessage(`gatescope: ${entry.label} — ${describeModel(entry)}${traceable}${kept}`, 5000);
  return entry.id;
}

const MAX_QUESTIONS = 12;

/** "--gate-order" -> "gate-order": the key of an answer. */
export const flagKey = (flag: string): string => flag.replace(/^--/, '');


async function openAsking(g: Gatescope, path: string, o: OpenModelCommandOptions): Promise<ModelEntry | undefined> {
  const saved = await savedModelFor(path);
  if (saved && !o.answers) {
    const m = await g.backend.loadModel(saved);
    if (m.data) {
      g.output.info(`open model: ${basename(path)} has a saved gatescope model file next to it (with the answers given before): opening ${basename(saved)}`);
      return openedEntry(saved, basename(saved), m);
    }
  }
  const answers: Record<string, string | string[]> = { ...o.answers };
  for (let round = 0; round < MAX_QUESTIONS; round++) {
    const m = await g.backend.loadModel(path, { answers });
    const q = m.question;
    if (!q) {
      for (const n of m.notes ?? []) g.output.info(`open model: ${n}`);
      const answered = Object.keys(answers);
      if (m.data && answered.length) await offerToSave(g, path, m.data, answeredWords(answered), o.save);
      return openedEntry(path, basename(path), m);
    }
    g.output.info(`open model: ${q.message}`);
    // Answered already, and still asked: the answer did not settle it (the loader says why).
    if (answers[flagKey(q.flag)] !== undefined) throw new Error(q.message);
    const a = await askOpenQuestion(q, path, { weightsOnly: m.imported !== undefined });
    if (!a) return undefined;
    if (a === 'weights') return openedEntry(path, basename(path), { imported: m.imported! });
    Object.assign(answers, a);
  }
  throw new Error(`still undecided after ${MAX_QUESTIONS} questions`);
}

// ---------------------------------------------------------------- questions

/** Quick-pick titles and answer descriptions, by flag. */
const QUESTIONS: Readonly<Record<string, { readonly title: string; readonly describe?: Readonly<Record<string, string>> }>> = {
  '--module': { title: 'which recurrent module', describe: { LSTM: 'nn.LSTM: gates i, f, g, o', GRU: 'nn.GRU: gates r, z, n', RNN: 'nn.RNN (Elman)' } },
  '--gate-order': { title: 'gate order of the fused blocks', describe: { 'i,f,g,o': 'PyTorch', 'i,f,c,o': 'Keras / TensorFlow', 'i,f,o,g': 'Lua char-rnn' } },
  '--recurrent-activation': { title: 'gate activation', describe: { sigmoid: 'PyTorch, Keras ≥ 2.4', hard_sigmoid: 'TensorFlow.js, Keras before 2.4' } },
  '--nonlinearity': { title: 'nonlinearity of the Elman RNN', describe: { tanh: 'nn.RNN default', relu: "nonlinearity='relu'" } },
  '--orientation': { title: 'how the matrices are stored', describe: { 'out-in': '[G·H, in]: the code computes W x', 'in-out': '[in, G·H]: the code computes x W' } },
  '--input-weight': { title: 'which letter is the input weight', describe: { W: 'W x + U h', U: 'U x + W h (as some courses write it)' } },
  '--gru-reset': { title: 'where the GRU reset gate applies', describe: { after: 'tanh(W x + r*(U h) + b): PyTorch, Keras reset_after=True', before: 'tanh(W x + U(r*h) + b): Keras reset_after=False' } },
  '--readout': { title: 'what the classifier reads out', describe: { last: 'the last hidden state', mean: 'the mean over time', max: 'the max over time' } },
  '--rnn-prefix': { title: 'which recurrent stack' },
  '--embedding-name': { title: 'which table is the embedding' },
  '--head-activation': { title: 'activation between the head layers', describe: { relu: 'ReLU', tanh: 'tanh', none: 'none: Linear straight into Linear' } },
  '--vocab-rule': { title: 'how the program built its vocabulary', describe: VOCABULARY_RULE_TEXT() },
  '--tokenizer': { title: 'how the program split words', describe: { basic_english: "torchtext's basic_english", whitespace_eos: 'whitespace, <eos> per line' } },
  '--epoch': { title: 'which epoch to take as the model' },
};

function VOCABULARY_RULE_TEXT(): Record<string, string> {
  return {
    corpus: "words in first-appearance order, <eos> per line (word_language_model's data.Corpus)",
    printable: "Python's string.printable, 100 characters (char-rnn.pytorch)",
    'sorted-chars': 'the sorted characters of the corpus (min-char-rnn, many notebooks)',
    basic_english: "torchtext basic_english words",
  };
}

type Answer = Record<string, string | string[]> | 'weights' | undefined;

/**
 * Asks one question a file leaves open (src/node/openModel.ts OpenQuestion) and returns the answer as
 * flags, 'weights' to open the weights alone (comparisons only), or undefined when dismissed.
 */
export async function askOpenQuestion(q: OpenQuestion, path: string, o: { readonly weightsOnly?: boolean; readonly vocabulary?: boolean } = {}): Promise<Answer> {
  const name = basename(path);
  const spec = QUESTIONS[q.flag];
  const placeHolder = questionPrompt(q.message, path, name);
  const weights = o.weightsOnly ? [{ label: '$(circle-slash) Open the weights only', description: 'compare them; no tracing or sampling', answer: 'weights' as const }] : [];
  if ((q.flag === '--vocab' || q.flag === '--vocab-from') && o.vocabulary !== false) return askVocabulary(name, placeHolder, weights);
  if (q.flag === '--head-activation') return askHeadActivations(q, name, placeHolder);
  const title = `Open ${name}: ${spec?.title ?? q.flag}`;
  if (q.choices?.length) {
    const items = [
      ...q.choices.map((c) => ({ label: c === '' ? '(no prefix)' : c, description: spec?.describe?.[c] ?? '', answer: { [flagKey(q.flag)]: c } as Answer })),
      ...(q.flag === '--gate-order' ? [{ label: 'Another order…', description: 'type it, e.g. f,i,o,g', answer: 'type' as const }] : []),
      ...weights,
    ];
    const pick = await vscode.window.showQuickPick(items, { title, placeHolder, ignoreFocusOut: true, matchOnDescription: true });
    if (!pick) return undefined;
    if (pick.answer !== 'type') return pick.answer;
  }
  const typed = await vscode.window.showInputBox({ title, prompt: placeHolder, ignoreFocusOut: true, placeHolder: q.flag });
  return typed === undefined || typed.trim() === '' ? undefined : { [flagKey(q.flag)]: typed.trim() };
}

async function askVocabulary(name: string, placeHolder: string, weights: { label: string; description: string; answer: 'weights' }[]): Promise<Answer> {
  const printable = /100 tokens/.test(placeHolder);
  const pick = await vscode.window.showQuickPick([
    { label: '$(file) Vocabulary file…', description: 'JSON list or map, one token per line, a torch.save\'d vocabulary', answer: 'file' as const },
    { label: '$(book) Rebuild it from the training text…', description: 'the corpus files the program read, and its rule', answer: 'corpus' as const },
    { label: "$(symbol-string) Python's string.printable", description: `char-rnn.pytorch's 100 characters${printable ? ' (this model takes 100 tokens)' : ''}`, answer: 'printable' as const },
    ...weights,
  ], { title: `Open ${name}: the vocabulary (the file does not record it)`, placeHolder, ignoreFocusOut: true });
  if (!pick) return undefined;
  if (pick.answer === 'weights') return 'weights';
  if (pick.answer === 'printable') return { 'vocab-rule': 'printable' };
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
  if (pick.answer === 'file') {
    const uris = await vscode.window.showOpenDialog({ canSelectMany: false, title: `Vocabulary of ${name}`, openLabel: 'Use vocabulary', defaultUri: folder, filters: { Vocabularies: ['json', 'txt', 'vocab', 'pt', 'pth'], 'All files': ['*'] } });
    return uris?.[0] ? { vocab: uris[0].fsPath } : undefined;
  }
  const uris = await vscode.window.showOpenDialog({ canSelectMany: true, title: `Training text of ${name} (the files the program read)`, openLabel: 'Rebuild vocabulary', defaultUri: folder });
  if (!uris?.length) return undefined;
  const rules = VOCABULARY_RULE_TEXT();
  const rule = await vscode.window.showQuickPick(Object.entries(rules).filter(([r]) => r !== 'printable').map(([r, d]) => ({ label: r, description: d })),
    { title: `Open ${name}: ${QUESTIONS['--vocab-rule'].title}`, ignoreFocusOut: true });
  return rule ? { 'vocab-from': uris.map((u) => u.fsPath).sort(), 'vocab-rule': rule.label } : undefined;
}

/** One activation per gap between the head's Linear layers ("(2 of them, comma-separated)"). */
async function askHeadActivations(q: OpenQuestion, name: string, placeHolder: string): Promise<Answer> {
  const gaps = Number(/\((\d+) of them/.exec(q.message)?.[1] ?? 1);
  const choices = q.choices ?? ['relu', 'tanh', 'none'];
  const picked: string[] = [];
  for (let k = 0; k < gaps; k++) {
    const pick = await vscode.window.showQuickPick(choices.map((c) => ({ label: c, description: QUESTIONS['--head-activation'].describe?.[c] ?? '' })),
      { title: `Open ${name}: activation after head layer ${k + 1} of ${gaps + 1}`, placeHolder, ignoreFocusOut: true });
    if (!pick) return undefined;
    picked.push(pick.label);
  }
  return { 'head-activation': picked.join(',') };
}

// ---------------------------------------------------------------- the saved model file

/** `dir/model.pt` -> `dir/model.gatescope.safetensors`: where "Open model…" saves a model with the answers given. */
export function savedModelPath(path: string): string {
  const name = basename(path);
  const stem = name.includes('.') ? name.slice(0, name.lastIndexOf('.')) : name;
  return join(dirname(path), `${stem}.gatescope.safetensors`);
}

async function statOf(path: string): Promise<vscode.FileStat | undefined> {
  try {
    return await vscode.workspace.fs.stat(vscode.Uri.file(path));
  } catch {
    return undefined;
  }
}

/** The gatescope model file saved next to `path`, when there is one at least as new as it. */
async function savedModelFor(path: string): Promise<string | undefined> {
  const target = savedModelPath(path);
  if (target === path || path.endsWith('.gatescope.safetensors')) return undefined;
  const [own, saved] = await Promise.all([statOf(path), statOf(target)]);
  return own && saved && saved.mtime >= own.mtime ? target : undefined;
}

/** Asks to save the model (now with what was answered) as a gatescope model file next to the original; never overwrites unasked. */
async function offerToSave(g: Gatescope, path: string, data: ModelData, answered: string, save: boolean | undefined): Promise<void> {
  let target = savedModelPath(path);
  const exists = (await statOf(target)) !== undefined;
  if (save === undefined) {
    const why = `so that opening ${basename(path)} again asks nothing`;
    const buttons = exists ? ['Overwrite', 'Save as…', 'Not now'] : ['Save', 'Save as…', 'Not now'];
    const pick = await vscode.window.showInformationMessage(
      exists
        ? `gatescope: ${basename(target)} already exists next to ${basename(path)}. Overwrite it with this model and ${answered}, ${why}?`
        : `gatescope: save ${basename(path)} with ${answered} as ${basename(target)} next to it, ${why}?`,
      ...buttons);
    if (!pick || pick === 'Not now') return;
    if (pick === 'Save as…') {
      const uri = await vscode.window.showSaveDialog({ defaultUri: vscode.Uri.file(target), filters: { 'gatescope model': ['safetensors'] }, title: `Save ${basename(path)} as a gatescope model` });
      if (!uri) return;
      target = uri.fsPath;
    }
  } else if (!save || exists) {
    if (save && exists) g.output.info(`open model: ${target} exists; not overwritten`);
    return;
  }
  if (!requireTrust('Saving a model file')) return;
  try {
    const bytes = serializeCheckpoint({ config: data.config, vocab: data.vocab, params: data.params, engine: 'imported', ...(data.labels ? { labels: data.labels } : {}) });
    await vscode.workspace.fs.writeFile(vscode.Uri.file(target), bytes);
    g.output.info(`open model: saved ${target} (the model with ${answered})`);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    g.output.error(`open model: cannot save ${target}: ${message}`);
    void vscode.window.showErrorMessage(`gatescope: cannot save ${target}: ${message}`);
  }
}

export function useModel(g: Gatescope, arg?: unknown): void {
  const id = modelIdOf(arg);
  if (id) g.models.setCurrent(id);
}

/**
 * The current model when it can be traced (a gatescope model: language model or classifier); otherwise
 * explains what to do, returns undefined.
 */
export async function requireTraceableModel(g: Gatescope, action: string): Promise<TraceableModel | undefined> {
  const m = g.models.current;
  if (isTraceable(m)) return m;
  const why = m ? `${m.label} has no vocabulary (imported weights)` : 'there is no model yet';
  const pick = await vscode.window.showWarningMessage(`gatescope: to ${action}, ${why}. Train one or open a gatescope checkpoint.`, 'Train char LSTM', 'Open model…');
  if (pick === 'Train char LSTM') await vscode.commands.executeCommand('gatescope.trainCharLstm');
  if (pick === 'Open model…') await vscode.commands.executeCommand('gatescope.openModel');
  return undefined;
}

export interface SampleCommandOptions {
  readonly prime?: string;
  readonly length?: number;
  readonly temperature?: number;
  readonly seed?: number;
  /** Do not open an editor with the result (tests). */
  readonly quiet?: boolean;
}

/** The current model when it can generate text; a classifier is refused with what it can do instead. */
export async function requireLanguageModel(g: Gatescope, action: string): Promise<TraceableModel | undefined> {
  const m = await requireTraceableModel(g, action);
  if (!m || taskOf(m.data.config) === 'lm') return m;
  const pick = await vscode.window.showErrorMessage(
    `gatescope: ${m.label} is a sequence classifier (${describeModel(m)}): it labels a text, it cannot generate one. `
    + 'Trace a document to see its prediction, or make a language model current.', 'Trace active document');
  if (pick === 'Trace active document') await vscode.commands.executeCommand('gatescope.traceActiveDocument');
  return undefined;
}

export async function sampleTextCommand(g: Gatescope, args?: unknown): Promise<string | undefined> {
  const model = await requireLanguageModel(g, 'sample text');
  if (!model) return undefined;
  const s = readSettings();
  const o: SampleCommandOptions = args && typeof args === 'object' ? args as SampleCommandOptions : {};
  const scripted = o.temperature !== undefined || o.prime !== undefined;
  const prime = scripted ? o.prime ?? '' : await vscode.window.showInputBox({ title: 'Sample text (1/2): prime (may be empty)', value: '' });
  if (prime === undefined) return undefined;
  const temperature = o.temperature ?? await pickTemperature(s.sampleTemperatures);
  if (temperature === undefined) return undefined;
  // A fresh seed each time, recorded in the document's header (the command takes it back as `seed`).
  const seed = o.seed ?? randomInt(1, 2 ** 31 - 1);
  const length = o.length ?? s.sampleLength;
  const text = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'gatescope: sampling' }, () =>
    g.backend.sample(model.data!, { prime, length, temperature, seed }));
  const full = prime + text;
  g.output.info(`sample (T=${temperature}, seed ${seed}) from ${model.label}: ${JSON.stringify(full.slice(0, 200))}`);
  if (!o.quiet) {
    const header = sampleHeader({ model: `${model.label} (${describeModel(model)})`, temperature, seed, prime, length });
    const doc = await vscode.workspace.openTextDocument({ content: `${header}\n\n${full}`, language: 'plaintext' });
    // Next to the text, in the column the previous sample went to (not one more column each time).
    const column = samplesColumn && vscode.window.visibleTextEditors.some((e) => e.viewColumn === samplesColumn) ? samplesColumn : vscode.ViewColumn.Beside;
    const editor = await vscode.window.showTextDocument(doc, { preview: true, viewColumn: column });
    samplesColumn = editor.viewColumn;
  }
  return full;
}

/** The editor column the last sample was shown in. */
let samplesColumn: vscode.ViewColumn | undefined;

/** The settings' temperatures, or any typed one (0 to 5). */
async function pickTemperature(presets: readonly number[]): Promise<number | undefined> {
  type Item = vscode.QuickPickItem & { readonly value: number };
  const item = (t: number, typed = false): Item => ({ label: String(t), description: typed ? `typed · ${temperatureNote(t)}` : temperatureNote(t), value: t });
  const qp = vscode.window.createQuickPick<Item>();
  qp.title = 'Sample text (2/2): temperature';
  qp.placeholder = `pick one, or type a temperature from 0 (greedy) to ${MAX_TEMPERATURE}`;
  const presetItems = presets.map((t) => item(t));
  qp.items = presetItems;
  return new Promise<number | undefined>((resolve) => {
    let result: number | undefined;
    qp.onDidChangeValue((v) => {
      const t = parseTemperature(v);
      qp.items = t === undefined || presets.includes(t) ? presetItems : [item(t, true), ...presetItems];
    });
    qp.onDidAccept(() => {
      result = qp.selectedItems[0]?.value ?? parseTemperature(qp.value);
      if (result !== undefined) qp.hide();
    });
    qp.onDidHide(() => {
      qp.dispose();
      resolve(result);
    });
    qp.show();
  });
}
