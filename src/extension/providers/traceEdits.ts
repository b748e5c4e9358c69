// Editing a traced document: the trace keeps its snapshot of the text, and tokens from the first edit on
// no longer match the editor (all of them for a bidirectional model). Hovers and colouring stop there.
import * as vscode from 'vscode';
import type { TracedDocument, TraceService } from '../services/traceService';

export function watchTraceEdits(traces: TraceService): vscode.Disposable {
  return vscode.workspace.onDidChangeTextDocument((e) => {
    const doc = traces.get(e.document.uri.toString());
    // rangeOffset is in the text before this change; text before an earlier edit never moved.
    if (doc && e.contentChanges.length) doc.noteEdit(Math.min(...e.contentChanges.map((c) => c.rangeOffset)));
  });
}

/** Edits made between reading the text for a trace and watching it: compare the snapshot with the editor. */
export function noteEditsSinceSnapshot(doc: TracedDocument, current: string): void {
  if (current === doc.text) return;
  const n = Math.min(current.length, doc.text.length);
  let i = 0;
  while (i < n && current.charCodeAt(i) === doc.text.charCodeAt(i)) i++;
  doc.noteEdit(i);
}
