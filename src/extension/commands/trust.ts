// The trust gate of commands that write into the workspace (logic/trust.ts says why).
import * as vscode from 'vscode';
import { MANAGE_TRUST, untrustedRefusal } from '../logic/trust';

/** True when the workspace is trusted; otherwise says why the action is refused (with a way to trust it). */
export function requireTrust(action: string): boolean {
  if (vscode.workspace.isTrusted) return true;
  void vscode.window.showWarningMessage(untrustedRefusal(action), MANAGE_TRUST).then((pick) => {
    if (pick === MANAGE_TRUST) void vscode.commands.executeCommand('workbench.trust.manage');
  });
  return false;
}
