// Canonical model → files other tools read: safetensors and .npz with PyTorch names (rnn.* + head.*
// as an LmEngine checkpoint, or bare names without a head), and a Keras 2 full-model .h5 (model_config
// + model_weights, the layout of keras' legacy hdf5_format) for LSTM / GRU / SimpleRNN (+ Dense).
import { directions } from '../config';
import type { TensorMap, Tensor } from '../tensor';
import { serializeSafetensors } from './safetensors';
import { serializeNpz } from './npz';
import { writeHdf5, type H5WriteGroup } from './hdf5';
import { CLASS_OF_MODULE, canonicalCellToKeras } from '../layouts/keras';
import { transpose2d, asFloat } from '../layouts/blocks';
import { type ImportedModel, toLmParams } from '../layouts/model';
import { toTorchConfig } from '../config';

export type ExportFormat = 'safetensors' | 'npz' | 'keras-h5';

function torchTensors(m: ImportedModel): TensorMap {
  return m.head ? toLmParams(m) : m.params;
}

export async function exportModel(m: ImportedModel, format: ExportFormat): Promise<Uint8Array> {
  switch (format) {
    case 'safetensors':
      return serializeSafetensors(torchTensors(m), { format: 'pt', gatescope_config: JSON.stringify(toTorchConfig(m.config)) });
    case 'npz':
      return serializeNpz(torchTensors(m));
    case 'keras-h5':
      return writeHdf5(kerasH5(m));
  }
}

/** Keras 2 model.save() layout: root model_config, /model_weights with layer_names and weight_names. */
export function kerasH5(m: ImportedModel): H5WriteGroup {
  const cfg = m.config;
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
      const w = canonicalCellToKeras(cfg, m.params, l, reverse);
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
  if (m.head) {
    const kernel = transpose2d(asFloat(m.head.weight, cfg.dtype));
    layers.push({ class_name: 'Dense', config: { name: 'dense', units: kernel.shape[1], activation: m.head.activation === 'softmax' ? 'linear' : m.head.activation, use_bias: !!m.head.bias } });
    layerNames.push('dense');
    const children: Record<string, Tensor> = { 'kernel:0': kernel };
    if (m.head.bias) children['bias:0'] = m.head.bias;
    groups.dense = { attrs: { weight_names: Object.keys(children).map((n) => `dense/${n}`) }, children: { dense: { children } } };
  }
  const modelConfig = { class_name: 'Sequential', config: { name: 'sequential', layers } };
  return {
    attrs: { keras_version: '2.13.1', backend: 'tensorflow', model_config: JSON.stringify(modelConfig) },
    children: { model_weights: { attrs: { layer_names: layerNames, keras_version: '2.13.1', backend: 'tensorflow' }, children: groups } },
  };
}
