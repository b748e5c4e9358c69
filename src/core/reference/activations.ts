// Gate nonlinearities and their derivatives expressed through the activation's output y,
// which is what the backward pass keeps.
import type { Nonlinearity, RecurrentActivation } from '../config';

export const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
/** Keras / tfjs hard sigmoid: clip(0.2 x + 0.5, 0, 1). */
export const hardSigmoid = (x: number): number => Math.min(1, Math.max(0, 0.2 * x + 0.5));
export const relu = (x: number): number => (x > 0 ? x : 0);

export interface Activation {
  readonly f: (x: number) => number;
  /** dy/dx as a function of y = f(x). */
  readonly dfFromOutput: (y: number) => number;
}

export const SIGMOID: Activation = { f: sigmoid, dfFromOutput: (y) => y * (1 - y) };
export const HARD_SIGMOID: Activation = { f: hardSigmoid, dfFromOutput: (y) => (y > 0 && y < 1 ? 0.2 : 0) };
export const TANH: Activation = { f: Math.tanh, dfFromOutput: (y) => 1 - y * y };
export const RELU: Activation = { f: relu, dfFromOutput: (y) => (y > 0 ? 1 : 0) };

export function gateActivation(kind: RecurrentActivation): Activation {
  return kind === 'hard_sigmoid' ? HARD_SIGMOID : SIGMOID;
}

export function elmanActivation(kind: Nonlinearity): Activation {
  return kind === 'relu' ? RELU : TANH;
}
