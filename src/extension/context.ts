// Everything the commands and providers share, created once in activate() and disposed with it.
import type * as vscode from 'vscode';
import type { PanelManager } from './panels/panelManager';
import type { GateHoverProvider } from './providers/gateHoverProvider';
import type { UnitDecorations } from './providers/unitDecorations';
import type { Backend } from './services/backend';
import type { ModelStore } from './services/modelStore';
import type { TraceService } from './services/traceService';
import type { TrainingService } from './services/trainingService';

export interface Gatescope {
  readonly extension: vscode.ExtensionContext;
  readonly output: vscode.LogOutputChannel;
  readonly backend: Backend;
  readonly models: ModelStore;
  readonly training: TrainingService;
  readonly traces: TraceService;
  readonly panels: PanelManager;
  readonly hover: GateHoverProvider;
  readonly decorations: UnitDecorations;
}
