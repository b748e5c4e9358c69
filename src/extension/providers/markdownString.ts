// The one way gatescope hands Markdown to VS Code (hovers, tree tooltips): built by logic/markdown.ts from
// escaped text, shown untrusted — no command links, no HTML, no theme icons.
import * as vscode from 'vscode';

export function untrustedMarkdown(value: string): vscode.MarkdownString {
  const md = new vscode.MarkdownString(value, false);
  md.isTrusted = false;
  md.supportHtml = false;
  md.supportThemeIcons = false;
  return md;
}
