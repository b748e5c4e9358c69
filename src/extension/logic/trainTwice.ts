// "Train char LSTM" while a run is going: one run trains at a time, and neither the running one nor the new
// request may be lost. The command asks first (before its prompts) and acts last (after them), so that
// backing out of a prompt stops nothing:
//   1. decideStart(current, undefined): 'start' when nothing trains, else 'ask' (or 'abort' when the
//      running run is already being stopped for another request);
//   2. the answer: STOP_AND_START agrees to stop that run (its checkpoint is saved first); anything else
//      keeps it and drops the new request (told so);
//   3. after the prompts, decideStart(current, agreedRunId): 'start', 'stop-then-start' (the run agreed to),
//      or 'ask' again when a different run started meanwhile.
// Pure: the command (commands/trainCharLstm.ts) shows the question and waits for the run to stop.

export interface BusyRun {
  readonly runId: string;
  readonly label: string;
  readonly step?: number;
  readonly totalSteps?: number;
  /** A stop was asked for (by another Train request or Cancel) and the run is saving its checkpoint. */
  readonly stopping: boolean;
}

export type StartDecision =
  | { readonly action: 'start' }
  | { readonly action: 'ask'; readonly run: BusyRun }
  | { readonly action: 'stop-then-start'; readonly run: BusyRun }
  | { readonly action: 'abort'; readonly message: string };

/** The button that stops the current run; dismissing the question (or any other answer) keeps it. */
export const STOP_AND_START = 'Stop it and start the new run';
export const KEEP_CURRENT = 'Keep the current run';

/** What to do about a new Train request given the run in progress (undefined: none) and the run the user agreed to stop. */
export function decideStart(current: BusyRun | undefined, agreedToStop?: string): StartDecision {
  if (!current) return { action: 'start' };
  if (agreedToStop === current.runId) return { action: 'stop-then-start', run: current };
  if (current.stopping) {
    return { action: 'abort', message: `gatescope: ${current.label} is stopping for another run; train again once that one has started.` };
  }
  return { action: 'ask', run: current };
}

/** The question asked when a run is going: a modal message and its detail line. */
export function busyQuestion(run: BusyRun, next?: string): { message: string; detail: string } {
  const at = run.step !== undefined && run.totalSteps ? ` (step ${run.step}/${run.totalSteps})` : '';
  return {
    message: `gatescope is training ${run.label}${at}. Stop it and start ${next ? `training ${next}` : 'a new run'}?`,
    detail: 'Stopping saves its checkpoint first (it stays in the Models list); one run trains at a time. '
      + `"${KEEP_CURRENT}" lets it go on and drops the new request.`,
  };
}

/** The answer to busyQuestion: stop (agreed) or keep the current run (the new request is dropped). */
export function answerOf(choice: string | undefined): 'stop' | 'keep' {
  return choice === STOP_AND_START ? 'stop' : 'keep';
}

/** Told when the new request is dropped because the user kept the current run. */
export function keptMessage(run: BusyRun): string {
  return `gatescope: kept training ${run.label}; the new run was not started.`;
}

/**
 * Whether a finished run's model becomes "the model in use": a completed run does; a cancelled one only
 * when there is no model in use yet (a partial model never replaces one); a failed run never (its last
 * saved checkpoint stays on disk and can be opened).
 */
export function becomesCurrent(status: 'done' | 'cancelled' | 'failed', hasCurrentModel: boolean): boolean {
  return status === 'done' || (status === 'cancelled' && !hasCurrentModel);
}
