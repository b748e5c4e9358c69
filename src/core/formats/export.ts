// Canonical model → files other tools read: safetensors and .npz with PyTorch names (the model's state_dict,
// embedding.weight + rnn.* + head.*, or a bare module's own names), and a Keras 2 full-model .h5
// (model_config + model_weights, the layout of keras' legacy hdf5_format) for Embedding + LSTM / GRU /
// SimpleRNN + Dense layers.
import { directions } from '../config';
import type { TensorMap, Tensor } from '../tensor';
import { serializeSafetensors } from './safetensors';
import { serializeNpz } from './npz';
import { writeHdf5, type H5WriteGroup } from './hdf5';
import { CLASS_OF_MODULE, canonicalCellToKeras } from '../layouts/keras';
import { transpose2d, asFloat } from '../layouts/blocks';
import { type ImportedModel, rnnParams } from '../layouts/model';
import { toTorchConfig } from '../config';
import { modelToJson } from '../model';

export type ExportFormat = 'safetensors' | 'npz' | 'keras-h5';

/**
 * A whole model's state_dict; a stack with a Linear after it that does not make a whole model (a classifier
 * whose readout the file does not record) as rnn.* + head.*; a bare module with its own names (weight_ih_l0, ...).
 */
function torchTensors(m: ImportedModel): TensorMap {
  if (m.model) return m.params;
  if (!m.head) return rnnParams(m);
  const out: TensorMap = new Map(m.params);
  out.set('head.weight', m.head.weight);
  if (m.head.bias) out.set('head.bias', m.head.bias);
  return out;
}

/** What the tensors do not say: the recurrent config (activations, GRU variant), the whole model, the vocabulary. */
function recordedConfig(m: ImportedModel): Record<string, string> {
  return {
    gatescope_config: JSON.stringify(toTorchConfig(m.config)),
    ...(m.model ? { gatescope_model: JSON.stringify(modelToJson(m.model)) } : {}),
    ...(m.vocabulary ? { gatescope_vocabulary: JSON.stringify(m.vocabulary.tokens) } : {}),
  };
}

export async function exportModel(m: ImportedModel, format: ExportFormat): Promise<Uint8Array> {
  switch (format) {
    case 'safetensors':
      return serializeSafetensors(torchTensors(m), { format: 'pt', ...recordedConfig(m) });
    case 'npz':
      // The same record as one-element string arrays (np.load(...)['gatescope_config'][0] in Python): an
      // .npz has no metadata, and without it a hard-sigmoid or reset-before model would read back as PyTorch's default.
      return serializeNpz(torchTensors(m), Object.fromEntries(Object.entries(recordedConfig(m)).map(([k, v]) => [k, [v]])));
    case 'keras-h5':
      return writeHdf5(kerasH5(m));
  }
}

/** Keras 2 model.save() layout: root model_config, /model_weights with layer_names and weight_names. */
export function kerasH5(m: ImportedModel): H5WriteGroup {
  const cfg = m.config;
  const rnn = rnnParams(m);
  const cls = CLASS_OF_MODULE[cfg.module];
  const base = cls === 'SimpleRNN' ? 'simple_rnn' : cls.toLowerCase();
  const cell = `${base}_cell`;
  const layers: Record<string, unknown>[] = [];
  const groups: Record<string, H5WriteGroup> = {};
  const layerNames: string[] = [];
  for (let l = 0; l < cfg.numLayers; l++) {
    const rnnName = l === 0 ? base : `${base}_${l}`;
    const rnnConfig: Record<string, unknown> = {
      name: rnnName, units: cfg.hiddenSize, activation: cfg.module === 'RNN' ? cfg.nonlinearity : 'tanh',
      use_bias: cfg.bias, return_sequences: true, go_backwards: false, dtype: cfg.dtype,
    };
    if (cfg.module !== 'RNN') rnnConfig.recurrent_activation = cfg.recurrentActivation;
    if (cfg.module === 'GRU') rnnConfig.reset_after = cfg.gruReset === 'after';
    if (l === 0) rnnConfig.batch_input_shape = [null, null, cfg.inputSize];
    const cellGroup = (reverse: boolean): H5WriteGroup => {
      const w = canonicalCellToKeras(cfg, rnn, l, reverse);
      const children: Record<string, Tensor> = { 'kernel:0': w.kernel, 'recurrent_kernel:0': w.recurrentKernel };
      if (w.bias) children['bias:0'] = w.bias;
      return { children };
    };
    const weightNames = (prefix: string): string[] =>
      ['kernel:0', 'recurrent_kernel:0', ...(cfg.bias ? ['bias:0'] : [])].map((n) => `${prefix}/${cell}/${n}`);
    if (directions(cfg) === 2) {
      const name = l === 0 ? 'bidirectional' : `bidirectional_${l}`;
      layers.push({ class_name: 'Bidirectional', config: { name, merge_mode: 'concat', layer: { class_name: cls, config: rnnConfig } } });
      layerNames.push(name);
      groups[name] = {
        attrs: { weight_names: [...weightNames(`${name}/forward_${rnnName}`), ...weightNames(`${name}/backward_${rnnName}`)] },
        children: { [name]: { children: {
          [`forward_${rnnName}`]: { children: { [cell]: cellGroup(false) } },
          [`backward_${rnnName}`]: { children: { [cell]: cellGroup(true) } },
        } } },
      };
    } else {
      layers.push({ class_name: cls, config: rnnConfig });
      layerNames.push(rnnName);
      groups[rnnName] = { attrs: { weight_names: weightNames(rnnName) }, children: { [rnnName]: { children: { [cell]: cellGroup(false) } } } };
    }
  }
  const head = m.model?.head ?? (m.head ? [{ type: 'Linear' as const, inFeatures: m.head.weight.shape[1], outFeatures: m.head.weight.shape[0], bias: !!m.head.bias }] : []);
  const headTensor = (i: number, kind: 'weight' | 'bias'): Tensor | undefined => (m.model
    ? m.params.get(m.model.headSequential ? `head.${i}.${kind}` : `head.${kind}`)
    : kind === 'weight' ? m.head?.weight : m.head?.bias);
  head.forEach((layer, i) => {
    if (layer.type !== 'Linear') return;
    const next = head.slice(i + 1).find((l) => l.type !== 'Dropout');
    const activation = next?.type === 'ReLU' ? 'relu' : next?.type === 'Tanh' ? 'tanh' : 'linear';
    const kernel = transpose2d(asFloat(headTensor(i, 'weight')!, cfg.dtype));
    const name = layers.filter((l) => l.class_name === 'Dense').length ? `dense_${layers.filter((l) => l.class_name === 'Dense').length}` : 'dense';
    layers.push({ class_name: 'Dense', config: { name, units: kernel.shape[1], activation, use_bias: layer.bias } });
    layerNames.push(name);
    const children: Record<string, Tensor> = { 'kernel:0': kernel };
    if (layer.bias) children['bias:0'] = headTensor(i, 'bias')!;
    groups[name] = { attrs: { weight_names: Object.keys(children).map((n) => `${name}/${n}`) }, children: { [name]: { children } } };
  });
  if (m.model?.embedding) {
    const e = m.model.embedding;
    layers.unshift({ class_name: 'Embedding', config: { name: 'embedding', input_dim: e.numEmbeddings, output_dim: e.embeddingDim, mask_zero: false, batch_input_shape: [null, null] } });
    layerNames.unshift('embedding');
    groups.embedding = { attrs: { weight_names: ['embedding/embeddings:0'] }, children: { embedding: { children: { 'embeddings:0': m.params.get('embedding.weight')! } } } };
    const first = layers[1].config as Record<string, unknown> & { layer?: { config?: Record<string, unknown> } };
    delete first.batch_input_shape;
    if (first.layer?.config) delete first.layer.config.batch_input_shape;
  }
  const modelConfig = { class_name: 'Sequential', config: { name: 'sequential', layers } };
  return {
    attrs: { keras_version: '2.13.1', backend: 'tensorflow', model_config: JSON.stringify(modelConfig) },
    children: { model_weights: { attrs: { layer_names: layerNames, keras_version: '2.13.1', backend: 'tensorflow' }, children: groups } },
  };
}
