// Workspace Trust (package.json: capabilities.untrustedWorkspaces, "limited"): in Restricted Mode gatescope
// views and traces, but what writes files into the workspace (training, which writes checkpoints and their
// sidecars; the test-state export) waits until the workspace is trusted. Pure: the message.

export const MANAGE_TRUST = 'Manage Workspace Trust';

export function untrustedRefusal(action: string): string {
  return `gatescope: ${action} is disabled in Restricted Mode: it writes files into the workspace. `
    + 'Trust this workspace to use it; opening, tracing and comparing models work without trust.';
}
