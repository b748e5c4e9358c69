// Editing a traced document: the trace keeps its snapshot of the text, and tokens from the first edit on
// no longer match the editor (all of them for a bidirectional model). Hovers and colouring stop there until the
// document is traced again: by itself once typing pauses (gatescope.trace.followEdits, unidirectional models:
// only the part from the first edit is redone), else by the command.
import * as vscode from 'vscode';
import { EditFollower } from '../logic/editFollower';
import type { TracedDocument, TraceService } from '../services/traceService';
import { readSettings } from '../settings';

/** How long typing must pause before an edited document is traced again. */
const FOLLOW_QUIET_MS = 1000;

export function watchTraceEdits(traces: TraceService, retrace: (key: string) => Promise<void>): vscode.Disposable {
  const follower = new EditFollower(retrace, FOLLOW_QUIET_MS);
  const edits = vscode.workspace.onDidChangeTextDocument((e) => {
    const key = e.document.uri.toString();
    const doc = traces.get(key);
    if (!doc || !e.contentChanges.length) return;
    // rangeOffset is in the text before this change; text before an earlier edit never moved.
    doc.noteEdit(Math.min(...e.contentChanges.map((c) => c.rangeOffset)));
    if (readSettings().followEdits && doc.layout.directions === 1) follower.edited(key);
  });
  const closed = vscode.workspace.onDidCloseTextDocument((d) => follower.forget(d.uri.toString()));
  return vscode.Disposable.from(edits, closed, follower);
}

/** Edits made between reading the text for a trace and watching it: compare the snapshot with the editor. */
export function noteEditsSinceSnapshot(doc: TracedDocument, current: string): void {
  if (current === doc.text) return;
  const n = Math.min(current.length, doc.text.length);
  let i = 0;
  while (i < n && current.charCodeAt(i) === doc.text.charCodeAt(i)) i++;
  doc.noteEdit(i);
}
