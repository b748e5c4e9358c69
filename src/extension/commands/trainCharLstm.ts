// "gatescope: Train char LSTM": text from the selection, the active editor or chosen workspace files; a
// labelled-data source (CSV/TSV/JSON Lines/fastText file or a folder of class folders, picked in the explorer
// or open in the editor) proposes a sequence classifier first. Then a few prompts, numbered ("2/4"), whose
// first item is always the default (logic/trainPlan.ts): task, cell (a classifier may be bidirectional),
// layers × units, steps. A progress notification with cancel; the checkpoint lands in the workspace's
// checkpoint folder (inside the workspace: services/checkpointFolder.ts). Tests and scripts may pass an
// options object instead of answering the prompts.
// While a run trains, a new request asks first whether to stop it (logic/trainTwice.ts): stopping waits for
// its checkpoint to be saved and registered, then starts the new run; keeping it drops the new request. The
// stop happens only after the prompts, so backing out of one stops nothing. Training writes into the
// workspace: refused in Restricted Mode (untrusted workspace).
import * as vscode from 'vscode';
import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Readout } from '../../core/model';
import { detectClassificationSource } from '../../node/classificationFiles';
import type { Gatescope } from '../context';
import {
  type DataFormat, EMBEDDING_DIM, type SizeCost, type TrainAnswers, type TrainTask, cellChoices, isClassifier, promptTitle, sizeChoices, taskChoices, trainPlan,
  validateSteps,
} from '../logic/trainPlan';
import { readSettings, torchOptions } from '../settings';
import type { TrainSpec } from '../services/backend';
import type { TrainingRun } from '../services/trainingRun';
import { checkpointFileName, resolveCheckpointFolder } from '../services/checkpointFolder';
import { type BusyRun, KEEP_CURRENT, STOP_AND_START, answerOf, busyQuestion, decideStart, keptMessage } from '../logic/trainTwice';
import { requireTrust } from './trust';
import { trainingMultiplyAddsPerToken } from '../../core/train/cost';
import { type FileHead, HEAD_BYTES, unusableSourceMessage } from '../logic/trainSource';
import { formatCount } from '../logic/formatCount';

export interface TrainCommandOptions {
  readonly text?: string;
  readonly files?: readonly string[];
  /** A sequence classifier on this CSV/TSV/JSONL file or folder of class folders. */
  readonly classify?: string;
  /** Classifier tokens (default word). */
  readonly level?: 'char' | 'word';
  readonly readout?: Exclude<Readout, 'per_step'>;
  readonly embeddingDim?: number;
  readonly module?: 'LSTM' | 'GRU' | 'RNN';
  readonly bidirectional?: boolean;
  readonly hiddenSize?: number;
  readonly numLayers?: number;
  readonly steps?: number;
  readonly seqLen?: number;
  readonly batchSize?: number;
  readonly engine?: string;
  readonly out?: string;
  /** Resolve the command only when training ends (for tests). */
  readonly wait?: boolean;
  /** While a run trains: stop it and start, or keep it and drop this request (instead of asking). */
  readonly ifBusy?: 'stop' | 'keep';
}

interface Source {
  /** Text to train a language model on (selection, editor). */
  readonly text?: string;
  /** Files to train a language model on. */
  readonly files?: string[];
  /** A file or folder of labelled examples, with its format. */
  readonly data?: { readonly path: string; readonly format: DataFormat; readonly unsaved: boolean };
  readonly label: string;
}

const nameOf = (uris: readonly vscode.Uri[]): string => (uris.length === 1 ? basename(uris[0].fsPath) : `${uris.length} files`);

/** A labelled-data format for a file or folder on disk, or undefined. */
function dataFormat(uri: vscode.Uri): DataFormat | undefined {
  return uri.scheme === 'file' ? detectClassificationSource(uri.fsPath) : undefined;
}

/** One picked file or folder: labelled data when it looks like it, else a text file. */
async function fromUri(uri: vscode.Uri, text?: string, unsaved = false): Promise<Source | undefined> {
  const format = dataFormat(uri);
  const label = basename(uri.fsPath);
  if (format) return { data: { path: uri.fsPath, format, unsaved }, label, ...(text !== undefined ? { text } : { files: [uri.fsPath] }) };
  const stat = await Promise.resolve(vscode.workspace.fs.stat(uri)).catch(() => undefined);
  if (stat && stat.type & vscode.FileType.Directory) {
    void vscode.window.showErrorMessage(`gatescope: ${label} is not a folder of class folders (one subfolder of .txt files per class). `
      + 'To train a language model, pick its text files.');
    return undefined;
  }
  return text !== undefined ? { text, label } : { files: [uri.fsPath], label };
}

/**
 * The data, without asking when the answer is obvious: a non-empty selection, else the active editor, else
 * (or from the explorer / a files argument) chosen workspace files.
 */
async function chooseSource(args: unknown): Promise<Source | undefined> {
  if (args instanceof vscode.Uri) return fromUri(args);
  if (Array.isArray(args) && args.every((a) => a instanceof vscode.Uri) && args.length) {
    const uris = args as vscode.Uri[];
    return uris.length === 1 ? fromUri(uris[0]) : { files: uris.map((u) => u.fsPath), label: nameOf(uris) };
  }
  const editor = vscode.window.activeTextEditor;
  if (editor && !editor.document.isUntitled && editor.document.getText().length === 0 && dataFormat(editor.document.uri) !== 'folders') {
    // An empty file in the editor: say so, rather than a file dialog the user did not ask for.
    const CHOOSE = 'Choose files…';
    const pick = await vscode.window.showErrorMessage(`gatescope: ${unusableSourceMessage([{ name: basename(editor.document.fileName), size: 0, head: new Uint8Array() }])}`, CHOOSE);
    return pick === CHOOSE ? chooseFiles() : undefined;
  }
  if (editor && !editor.selection.isEmpty) {
    return { text: editor.document.getText(editor.selection), label: `selection of ${basename(editor.document.fileName)}` };
  }
  if (editor && editor.document.getText().length > 0) {
    const d = editor.document;
    return d.isUntitled ? { text: d.getText(), label: basename(d.fileName) } : fromUri(d.uri, d.getText(), d.isDirty);
  }
  return chooseFiles();
}

async function chooseFiles(): Promise<Source | undefined> {
  const uris = await vscode.window.showOpenDialog({ canSelectMany: true, openLabel: 'Train on these', title: 'Train: text files, or one CSV/TSV/JSONL of labelled examples', defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri });
  if (!uris?.length) return undefined;
  return uris.length === 1 ? fromUri(uris[0]) : { files: uris.map((u) => u.fsPath), label: nameOf(uris) };
}

/** Size and first bytes of a file on disk; undefined for what is not a readable regular file (the worker reports those). */
function fileHead(path: string): FileHead | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const st = fstatSync(fd);
    if (!st.isFile()) return undefined;
    const head = new Uint8Array(Math.min(HEAD_BYTES, st.size));
    const n = readSync(fd, head, 0, head.length, 0);
    return { name: basename(path), size: st.size, head: head.subarray(0, n) };
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The refusal for a source none of whose files can be trained on (checked before any prompt), else undefined. */
function unusableSource(source: Source): string | undefined {
  if (source.text !== undefined) return undefined; // the editor's or selection's text: not empty, or we would not be here
  const paths = source.data ? (source.data.format === 'folders' ? [] : [source.data.path]) : source.files ?? [];
  const heads = paths.map(fileHead);
  return heads.every((h): h is FileHead => h !== undefined) ? unusableSourceMessage(heads) : undefined;
}

/** Prompts, numbered: the task (labelled data only), cell, size, steps. Undefined when dismissed. */
interface AskDefaults {
  readonly module: 'LSTM' | 'GRU' | 'RNN';
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly steps: number;
  readonly tokensPerStep: number;
  /** The rate an earlier run trained at on this machine (for the size hints), if any. */
  readonly multiplyAddsPerSecond?: number;
}

async function ask(source: Source, defaults: AskDefaults): Promise<TrainAnswers | undefined> {
  const total = source.data ? 4 : 3;
  let step = 0;
  let task: TrainTask = 'lm';
  if (source.data) {
    const saved = source.data.unsaved ? ' (the file as saved on disk)' : '';
    const pick = await vscode.window.showQuickPick(taskChoices(source.data.format).map((c) => ({ ...c, detail: c.task === 'lm' ? c.detail : c.detail + saved })),
      { title: `Train on ${source.label} (${++step}/${total}): what to train`, placeHolder: 'This looks like labelled examples: a sequence classifier?' });
    if (!pick) return undefined;
    task = pick.task;
  }
  const cell = await vscode.window.showQuickPick(cellChoices(task, defaults.module), { title: promptTitle(task, ++step, total, 'cell') });
  if (!cell) return undefined;
  const classifier = isClassifier(task);
  const cost: SizeCost = {
    module: cell.module, bidirectional: cell.bidirectional, steps: defaults.steps, tokensPerStep: defaults.tokensPerStep,
    inputSize: classifier ? EMBEDDING_DIM[task as Exclude<TrainTask, 'lm'>] : distinctCharacters(source), perTokenOutputs: classifier ? 0 : distinctCharacters(source),
    ...(defaults.multiplyAddsPerSecond ? { multiplyAddsPerSecond: defaults.multiplyAddsPerSecond } : {}),
  };
  const size = await vscode.window.showQuickPick(sizeChoices(defaults.hiddenSize, defaults.numLayers, cost), { title: promptTitle(task, ++step, total, 'layers × hidden units') });
  if (!size) return undefined;
  const steps = await vscode.window.showInputBox({ title: promptTitle(task, ++step, total, 'optimizer steps'), value: String(defaults.steps), validateInput: validateSteps });
  if (steps === undefined) return undefined;
  return {
    task, module: cell.module, bidirectional: cell.bidirectional, hiddenSize: size.hiddenSize, numLayers: size.numLayers,
    steps: Number(steps.trim()), sourceLabel: source.label,
  };
}

/** The answers a scripted call gives (options over settings), without prompts. */
function scriptedAnswers(o: TrainCommandOptions, source: Source, s: ReturnType<typeof readSettings>): TrainAnswers {
  const task: TrainTask = o.classify === undefined ? 'lm' : o.level === 'char' ? 'classify-chars' : 'classify-words';
  return {
    task, module: o.module ?? s.model, bidirectional: o.bidirectional ?? false,
    hiddenSize: o.hiddenSize ?? s.hiddenSize, numLayers: o.numLayers ?? s.numLayers, steps: o.steps ?? s.steps, sourceLabel: source.label,
    ...(o.readout ? { readout: o.readout } : {}), ...(o.embeddingDim ? { embeddingDim: o.embeddingDim } : {}),
  };
}

/** The checkpoint of a new run: in the workspace's checkpoint folder (refused when it leads out), a fresh name. */
function checkpointUri(g: Gatescope, folder: string, name: string): vscode.Uri {
  const ws = vscode.workspace.workspaceFolders?.[0]?.uri;
  let base: vscode.Uri;
  if (ws && ws.scheme === 'file') {
    const r = resolveCheckpointFolder(ws.fsPath, folder);
    if (!r.ok) throw new Error(r.message);
    base = vscode.Uri.file(r.path);
  } else {
    base = ws ? vscode.Uri.joinPath(ws, folder) : vscode.Uri.joinPath(g.extension.globalStorageUri, 'checkpoints');
  }
  // Never the file of another run (two runs started in one second would share the time stamp).
  const used = new Set(g.training.runs.map((r) => r.spec.out));
  const file = checkpointFileName(name, new Date(), (n) => used.has(join(base.fsPath, n)) || existsSync(join(base.fsPath, n)));
  return vscode.Uri.joinPath(base, file);
}

/** The run's id when the user agrees to stop it (or `scripted` says so); undefined keeps it (told so). */
async function agreeToStop(run: BusyRun, next: string | undefined, scripted: 'stop' | 'keep' | undefined): Promise<string | undefined> {
  let answer: 'stop' | 'keep';
  if (scripted) {
    answer = scripted;
  } else {
    const q = busyQuestion(run, next);
    const pick = await vscode.window.showWarningMessage(q.message, { modal: true, detail: q.detail },
      { title: STOP_AND_START }, { title: KEEP_CURRENT, isCloseAffordance: true });
    answer = answerOf(pick?.title);
  }
  if (answer === 'stop') return run.runId;
  void vscode.window.showInformationMessage(keptMessage(run));
  return undefined;
}

/**
 * Clears the way for a new run (logic/trainTwice.ts): true when nothing trains any more, after stopping the
 * run the user agreed to stop (its checkpoint saved and registered first); false when the request is dropped.
 */
async function clearTheWay(g: Gatescope, agreed: { runId?: string }, next: string | undefined, scripted: 'stop' | 'keep' | undefined): Promise<boolean> {
  for (;;) {
    const d = decideStart(g.training.busy(), agreed.runId);
    switch (d.action) {
      case 'start':
        return true;
      case 'abort':
        void vscode.window.showWarningMessage(d.message);
        return false;
      case 'ask':
        agreed.runId = await agreeToStop(d.run, next, scripted);
        if (!agreed.runId) return false;
        break;
      case 'stop-then-start':
        g.output.info(`stopping ${d.run.label} to start ${next ?? 'a new run'}`);
        await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `gatescope: stopping ${d.run.label} and saving its checkpoint…` },
          () => g.training.stopAndWait(d.run.runId));
        break;
    }
  }
}

/** The first question (before the prompts): false when the request is dropped; agreeing stops nothing yet. */
async function clearTheWayAsk(g: Gatescope, agreed: { runId?: string }, scripted: 'stop' | 'keep' | undefined): Promise<boolean> {
  const d = decideStart(g.training.busy());
  if (d.action === 'abort') {
    void vscode.window.showWarningMessage(d.message);
    return false;
  }
  if (d.action !== 'ask') return true;
  agreed.runId = await agreeToStop(d.run, undefined, scripted);
  return agreed.runId !== undefined;
}

export async function trainCharLstm(g: Gatescope, args?: unknown): Promise<string | undefined> {
  if (!requireTrust('Training')) return undefined;
  const s = readSettings();
  const opts: TrainCommandOptions = args && typeof args === 'object' && !(args instanceof vscode.Uri) && !Array.isArray(args) ? args as TrainCommandOptions : {};
  const scripted = opts.text !== undefined || opts.files !== undefined || opts.classify !== undefined;
  // A run is going: ask now (before the prompts), stop it only once the new run is ready to start.
  const agreed: { runId?: string } = {};
  if (g.training.busy() && !(await clearTheWayAsk(g, agreed, opts.ifBusy))) return undefined;
  let source: Source | undefined;
  if (opts.classify !== undefined) {
    source = { data: { path: opts.classify, format: detectClassificationSource(opts.classify) ?? 'csv', unsaved: false }, label: basename(opts.classify) };
  } else if (scripted) {
    source = { ...(opts.text !== undefined ? { text: opts.text } : {}), ...(opts.files ? { files: [...opts.files] } : {}), label: opts.files?.length === 1 ? basename(opts.files[0]) : 'text' };
  } else {
    source = await chooseSource(args);
  }
  if (!source) return undefined;
  const unusable = unusableSource(source);
  if (unusable) {
    void vscode.window.showErrorMessage(`gatescope: ${unusable}`);
    return undefined;
  }
  const answers = scripted ? scriptedAnswers(opts, source, s)
    : await ask(source, {
      module: s.model, hiddenSize: s.hiddenSize, numLayers: s.numLayers, steps: s.steps, tokensPerStep: s.batchSize * s.sequenceLength,
      multiplyAddsPerSecond: g.extension.globalState.get<number>(RATE_KEY),
    });
  if (!answers) return undefined;
  const plan = trainPlan(answers, { seqLen: opts.seqLen ?? s.sequenceLength, batchSize: opts.batchSize ?? s.batchSize, learningRate: s.learningRate, sampleLength: s.sampleLength });
  const out = opts.out ? vscode.Uri.file(opts.out) : checkpointUri(g, s.checkpointFolder, plan.fileStem);
  await vscode.workspace.fs.createDirectory(vscode.Uri.joinPath(out, '..'));
  const data: Pick<TrainSpec, 'text' | 'textPaths' | 'classify'> = isClassifier(answers.task) ? { classify: { path: source.data!.path } }
    : source.text !== undefined ? { text: source.text } : { textPaths: source.files };
  const spec: TrainSpec = {
    ...data,
    out: out.fsPath,
    engine: (opts.engine ?? s.engine) as TrainSpec['engine'],
    ...torchOptions(opts.engine ?? s.engine, s),
    level: plan.level,
    ...(plan.minFreq !== undefined ? { minFreq: plan.minFreq } : {}),
    model: plan.model,
    settings: plan.settings,
  };
  if (!(await clearTheWay(g, agreed, plan.label, opts.ifBusy))) return undefined;
  const run = g.training.start(spec, plan.label);
  g.output.info(`training ${plan.label} → ${out.fsPath} (${g.backend.description})`);
  g.panels.showDashboard().reveal();
  const finished = followWithProgress(g, run);
  if (opts.wait) {
    await finished;
    await run.settled;
    return run.checkpointPath;
  }
  return out.fsPath;
}

/** The rate (multiply-adds per second) the last run trained at, for the next Train's size hints. */
const RATE_KEY = 'gatescope.trainingRate';

function rememberRate(g: Gatescope, run: TrainingRun, vocabSize: number, tokensPerSecond: number): void {
  const m = run.spec.model;
  if (!m?.module || !m.hiddenSize || !m.numLayers || !vocabSize || !(tokensPerSecond > 0)) return;
  const classifier = m.readout !== undefined && m.readout !== 'per_step';
  const perToken = trainingMultiplyAddsPerToken({
    module: m.module, numLayers: m.numLayers, hiddenSize: m.hiddenSize, bidirectional: m.bidirectional ?? false,
    inputSize: m.embeddingDim ? m.embeddingDim : vocabSize, perTokenOutputs: classifier ? 0 : vocabSize,
  });
  void g.extension.globalState.update(RATE_KEY, perToken * tokensPerSecond);
}

/** A char model's one-hot width, estimated from the text (or the files' first bytes) before it is read whole. */
function distinctCharacters(source: Source): number {
  const sample = source.text?.slice(0, 1 << 20)
    ?? (source.files ?? []).map((f) => { const h = fileHead(f); return h ? new TextDecoder().decode(h.head) : ''; }).join('');
  return Math.max(2, new Set(sample).size);
}

function followWithProgress(g: Gatescope, run: TrainingRun): Promise<void> {
  return Promise.resolve(vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `gatescope: training ${run.label}`, cancellable: true },
    async (progress, token) => {
      token.onCancellationRequested(() => run.cancel());
      let reported = 0;
      let lastMessage = 0;
      let vocabSize = 0;
      let tokensPerSecond = 0;
      const sub = run.onDidEvent((e) => {
        if (e.kind === 'step') tokensPerSecond = e.tokensPerSecond;
        if (e.kind === 'start') {
          vocabSize = e.vocabSize;
          g.output.info(`${run.label}: ${e.model}; ${e.parameters.toLocaleString('en-US')} parameters on ${e.engine}`);
          if (e.classification) {
            const c = e.classification;
            g.output.info(`${run.label}: ${c.examples} examples in ${c.classes.length} classes (${c.classes.join(', ')})`);
            for (const note of c.notes) g.output.info(`${run.label}: ${note}`);
          }
          return;
        }
        if (e.kind !== 'step') return;
        const pct = (100 * e.step) / Math.max(1, e.totalSteps);
        const now = Date.now();
        if (now - lastMessage < 250 && e.step !== e.totalSteps) return;
        lastMessage = now;
        const accuracy = e.accuracy !== undefined ? ` · accuracy ${(100 * e.accuracy).toFixed(0)}%` : '';
        progress.report({ increment: pct - reported, message: `step ${e.step}/${e.totalSteps} · loss ${e.loss.toFixed(3)}${accuracy}` });
        reported = pct;
      });
      try {
        await run.finished;
      } finally {
        sub.dispose();
      }
      const s = run.summary();
      if (s.status === 'failed') {
        g.output.error(`training ${run.label} failed: ${s.error}`);
        // Its last checkpoint (saved atomically before the failure) can be opened: never made current unasked.
        const saved = run.lastSaved;
        const OPEN = 'Open last checkpoint';
        void vscode.window.showErrorMessage(`gatescope: training ${run.label} failed: ${s.error}`, ...(saved ? [OPEN] : [])).then((pick) => {
          if (pick === OPEN && saved) void vscode.commands.executeCommand('gatescope.openModel', saved.path);
        });
      } else {
        g.output.info(`training ${run.label} ${s.status}: ${s.checkpointPath ?? ''}`);
        rememberRate(g, run, vocabSize, tokensPerSecond);
        void run.settled.then(() => announceRunEnd(run)); // once its model is registered (and current)
      }
    },
  ));
}

/** The end of a run, with what to do next: trace or sample the new model, find its checkpoint. */
async function announceRunEnd(run: TrainingRun): Promise<void> {
  const s = run.summary();
  if (s.status === 'failed') return; // said by followWithProgress (e.g. an unreadable checkpoint)
  const loss = run.train.last();
  const per = s.task === 'classify' ? 'example' : s.tokenLevel ?? 'token';
  const lossText = loss === undefined ? '' : ` · loss ${loss.toFixed(3)} nats (${(loss / Math.LN2).toFixed(3)} bits/${per})`;
  const when = s.status === 'cancelled' ? `stopped at step ${formatCount(run.lastStep?.step ?? 0)} of ${formatCount(s.totalSteps)}` : `finished ${formatCount(s.totalSteps)} steps`;
  const TRACE = 'Trace', SAMPLE = 'Sample', REVEAL = 'Reveal checkpoint';
  const actions = [TRACE, ...(s.task === 'classify' ? [] : [SAMPLE]), ...(s.checkpointPath ? [REVEAL] : [])];
  const pick = await vscode.window.showInformationMessage(`gatescope: ${run.label} ${when}${lossText}`, ...actions);
  if (pick === TRACE) await vscode.commands.executeCommand('gatescope.traceActiveDocument');
  else if (pick === SAMPLE) await vscode.commands.executeCommand('gatescope.sampleText');
  else if (pick === REVEAL && s.checkpointPath) {
    const uri = vscode.Uri.file(s.checkpointPath);
    await vscode.commands.executeCommand(vscode.workspace.getWorkspaceFolder(uri) ? 'revealInExplorer' : 'revealFileInOS', uri);
  }
}
