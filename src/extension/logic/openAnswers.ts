// Open model's answers to what a file does not record, in words for the offer to save them. Pure.

/** What an answer settles, in words (by its flag's key); a saved model file records all of them. */
const ANSWER_WORDS: Readonly<Record<string, string>> = {
  vocab: 'vocabulary', 'vocab-from': 'vocabulary', 'vocab-rule': 'vocabulary', tokenizer: 'vocabulary', module: 'module',
  'gate-order': 'gate order', 'recurrent-activation': 'gate activation', nonlinearity: 'nonlinearity', orientation: 'matrix orientation',
  'input-weight': 'input weight', 'gru-reset': 'GRU reset', readout: 'readout', 'rnn-prefix': 'recurrent stack', 'embedding-name': 'embedding',
  'head-activation': 'head activations', epoch: 'epoch',
};

/** "its vocabulary and gate order": what the answers given settle. */
export function answeredWords(keys: readonly string[]): string {
  const words = [...new Set(keys.map((k) => ANSWER_WORDS[k] ?? k))];
  return `its ${words.length > 1 ? `${words.slice(0, -1).join(', ')} and ${words.at(-1)}` : words[0]}`;
}

/**
 * A loader's question (src/node/openModel.ts OpenQuestion's message) as a quick pick's one-line placeholder:
 * without the path the title names, the tensor listing and the CLI's "give --flag …" (the picks are the answers).
 */
export function questionPrompt(message: string, path: string, name: string): string {
  return message.replace(/\. Tensors found: .*$/s, '').replace(/[;:] (give|pass) --.*$/s, '').split(`${path}: `).join('').split(`${name}: `).join('');
}
