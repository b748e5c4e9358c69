"""What a watched module is: its description in gatescope's model JSON and its weights in PyTorch's layout.

Two kinds of module can be watched:

- ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN``: read as they are.
- a from-scratch module (``MyLSTM``) with a *mapping* from its own parameters to PyTorch's names;
  see :class:`Param` for the vocabulary. Its weights are rearranged into PyTorch's layout at every
  snapshot, so the snapshot of a correct ``MyLSTM`` equals that of an ``nn.LSTM`` with the same weights.
"""
import re

import torch
import torch.nn as nn

from ._trace import GATES, gate_blocks, suffix

_TARGET = re.compile(r"^(weight|bias)_(ih|hh)_l(\d+)(_reverse)?$")
_NAME = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_-])?$")
# Other frameworks' letters for the same gate: Keras/from-scratch c is the LSTM cell candidate g,
# h is the GRU candidate n (as in gatescope's --gate-order).
_ALIASES = {"LSTM": {"c": "g"}, "GRU": {"h": "n"}, "RNN": {}}
_LSTM_LETTERS = set("ifgoc")
_GRU_LETTERS = set("rznh")
_TRANSPOSED = {"T", "t", "transposed", "in-out", True}


def check_name(name, what="name"):
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        raise ValueError(f"{what} {name!r} must be letters, digits, '_', '-' or '.' (not at either end)")
    return name


def _dtype_name(dtype):
    return str(dtype).replace("torch.", "")


class Param:
    """Where one tensor of a from-scratch module goes in PyTorch's layout.

    ``target``      a PyTorch parameter name: ``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}`` or
                    ``bias_hh_l{k}``, with ``_reverse`` for the reverse direction of a bidirectional stack.
    ``gates``       the gate blocks this tensor holds, in its own row order: one letter (``"i"``: the
                    tensor is that gate's block alone) or several (``"ifog"``, ``"i,f,c,o"``: fused blocks
                    in that order). LSTM letters i f g o (``c`` = ``g``), GRU r z n (``h`` = ``n``).
                    ``None``: the whole target in PyTorch's own order (i|f|g|o, r|z|n; an RNN has one block).
    ``transposed``  the tensor is stored [in, blocks*H] and used as ``x @ W`` (Keras kernels, ``x @ W``
                    code); PyTorch's weights are [blocks*H, in], used as ``W @ x``. Ignored for biases.

    In a mapping, ``"weight_ih_l0"`` is ``Param("weight_ih_l0")``, ``("weight_ih_l0", "i")`` is
    ``Param("weight_ih_l0", "i")`` and ``("weight_ih_l0", "ifco", "T")`` is
    ``Param("weight_ih_l0", "ifco", transposed=True)``; a dict ``{"target": ..., "gates": ...,
    "transposed": ...}`` works too.
    """

    __slots__ = ("target", "gates", "transposed")

    def __init__(self, target, gates=None, transposed=False):
        self.target = target
        self.gates = gates
        self.transposed = bool(transposed)

    def __repr__(self):
        return f"Param({self.target!r}, {self.gates!r}, transposed={self.transposed})"

    def to_json(self):
        return {"target": self.target, "gates": self.gates, "transposed": self.transposed}


def _param_of(key, value):
    if isinstance(value, Param):
        p = Param(value.target, value.gates, value.transposed)
    elif isinstance(value, str):
        p = Param(value)
    elif isinstance(value, dict):
        unknown = set(value) - {"target", "gates", "transposed"}
        if unknown or "target" not in value:
            raise ValueError(f"mapping[{key!r}]: a dict needs 'target' and may have 'gates', 'transposed'; got {sorted(value)}")
        p = Param(value["target"], value.get("gates"), value.get("transposed", False))
    elif isinstance(value, (tuple, list)) and 1 <= len(value) <= 3:
        flag = value[2] if len(value) == 3 else False
        if flag not in _TRANSPOSED and flag not in (False, None, "", "N"):
            raise ValueError(f"mapping[{key!r}]: third element {flag!r} must be 'T' (transposed) or omitted")
        p = Param(value[0], value[1] if len(value) > 1 else None, flag in _TRANSPOSED)
    else:
        raise TypeError(f"mapping[{key!r}]: expected a PyTorch name, (name, gates[, 'T']), a dict or gatescope.Param, got {value!r}")
    if not isinstance(p.target, str) or not _TARGET.match(p.target):
        raise ValueError(f"mapping[{key!r}]: target {p.target!r} is not a PyTorch RNN parameter name (weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, ..._reverse)")
    if p.gates is not None:
        p.gates = _letters(p.gates, key)
    return p


def _letters(spec, key):
    if isinstance(spec, (list, tuple)):
        letters = [str(g) for g in spec]
    elif isinstance(spec, str):
        letters = [g for g in re.split(r"[\s,|]+", spec) if g] if re.search(r"[\s,|]", spec) else list(spec)
    else:
        raise TypeError(f"mapping[{key!r}]: gates must be a string such as 'ifgo' or 'i,f,c,o', got {spec!r}")
    letters = [g.lower() for g in letters]
    if not letters or any(len(g) != 1 for g in letters) or len(set(letters)) != len(letters):
        raise ValueError(f"mapping[{key!r}]: gates {spec!r} must be distinct one-letter gate names")
    return "".join(letters)


def _tensors_of(module):
    found = dict(module.named_parameters())
    for k, v in module.named_buffers():
        found.setdefault(k, v)
    return found


class Watched:
    """One watched module: name, description, canonical weights (read fresh at every call)."""

    def __init__(self, module, name, mapping=None, module_type=None, nonlinearity=None, batch_first=None):
        self.name = check_name(name)
        self.module = module
        if mapping is None:
            self._init_pytorch(module, module_type, nonlinearity, batch_first)
        else:
            self._init_mapped(module, mapping, module_type, nonlinearity, batch_first)

    # -- nn.LSTM / nn.GRU / nn.RNN -----------------------------------------------------------------
    def _init_pytorch(self, module, module_type, nonlinearity, batch_first):
        inner = getattr(module, "module", None)
        if not isinstance(module, nn.RNNBase) and isinstance(inner, nn.RNNBase):
            module = inner  # DistributedDataParallel / DataParallel around a bare recurrent module
            self.module = module
        if not isinstance(module, nn.RNNBase):
            inside = [n for n, m in module.named_modules() if isinstance(m, nn.RNNBase)]
            hint = (f"; it contains {', '.join(inside)}: watch that (run.watch(model.{inside[0]}, name={inside[0].split('.')[-1]!r}))"
                    if inside else "; for a from-scratch module pass mapping={its parameter: PyTorch name, ...}")
            raise TypeError(f"watch() takes an nn.LSTM, nn.GRU or nn.RNN, got {type(module).__name__}{hint}")
        mode = module.mode
        kind = {"LSTM": "LSTM", "GRU": "GRU", "RNN_TANH": "RNN", "RNN_RELU": "RNN"}.get(mode)
        if kind is None:
            raise TypeError(f"watch(): unsupported recurrent mode {mode!r}")
        if getattr(module, "proj_size", 0):
            raise ValueError("watch(): nn.LSTM with proj_size > 0 is not supported (gatescope has no projection layer)")
        for given, actual, what in ((module_type, kind, "module_type"), (nonlinearity, "relu" if mode == "RNN_RELU" else "tanh", "nonlinearity"),
                                    (batch_first, module.batch_first, "batch_first")):
            if given is not None and given != actual and not (what == "nonlinearity" and kind != "RNN"):
                raise ValueError(f"watch(): {what}={given!r} contradicts the module ({actual!r})")
        self.layout = "pytorch"
        self.kind = kind
        self.nonlinearity = ("relu" if mode == "RNN_RELU" else "tanh") if kind == "RNN" else None
        self.batch_first = bool(module.batch_first)
        self.input_size = module.input_size
        self.hidden_size = module.hidden_size
        self.num_layers = module.num_layers
        self.bidirectional = bool(module.bidirectional)
        self.bias = bool(module.bias)
        self._names = list(module._flat_weights_names)
        self.mapping_json = None
        self.unmapped = []
        self.params()  # fail now, not at the first snapshot

    # -- from-scratch modules ------------------------------------------------------------------------
    def _init_mapped(self, module, mapping, module_type, nonlinearity, batch_first):
        if not isinstance(module, nn.Module):
            raise TypeError(f"watch(): expected an nn.Module, got {type(module).__name__}")
        if not isinstance(mapping, dict) or not mapping:
            raise TypeError("watch(): mapping must be a non-empty dict {module parameter name: PyTorch name or (name, gates[, 'T'])}")
        found = _tensors_of(module)
        entries = {}
        for key, value in mapping.items():
            if key not in found:
                raise KeyError(f"watch(): the module has no parameter or buffer {key!r}; it has {', '.join(sorted(found)) or 'none'}")
            entries[key] = _param_of(key, value)

        letters = set("".join(p.gates or "" for p in entries.values()))
        if module_type is not None:
            kind = str(module_type).upper()
            if kind not in GATES:
                raise ValueError(f"watch(): module_type must be 'LSTM', 'GRU' or 'RNN', got {module_type!r}")
        elif letters and letters <= _LSTM_LETTERS:
            kind = "LSTM"
        elif letters and letters <= _GRU_LETTERS:
            kind = "GRU"
        elif letters:
            raise ValueError(f"watch(): gate letters {''.join(sorted(letters))} are neither LSTM (i,f,g|c,o) nor GRU (r,z,n|h)")
        else:
            kind = self._kind_from_shapes(entries, found)
        G = gate_blocks(kind)
        canonical = GATES[kind]
        alias = _ALIASES[kind]

        def blocks_of(key, p):
            if p.gates is None:
                return list(range(G))
            if kind == "RNN":
                raise ValueError(f"mapping[{key!r}]: an RNN has no gates; map the whole tensor")
            out = []
            for g in p.gates:
                g = alias.get(g, g)
                if g not in canonical:
                    raise ValueError(f"mapping[{key!r}]: {g!r} is not a {kind} gate ({','.join(canonical)})")
                out.append(canonical.index(g))
            return out

        def oriented(key, p):
            t = found[key]
            if p.target.startswith("bias"):
                if t.dim() == 2 and 1 in t.shape:
                    return t.reshape(-1)
                if t.dim() != 1:
                    raise ValueError(f"mapping[{key!r}]: a bias must be a vector, got shape {list(t.shape)}")
                return t
            if t.dim() != 2:
                raise ValueError(f"mapping[{key!r}]: a weight must be a matrix, got shape {list(t.shape)}")
            return t.t() if p.transposed else t

        # hidden size from a recurrent weight: [blocks*H, H] once oriented
        H = None
        for key, p in entries.items():
            if p.target.startswith("weight_hh"):
                H = oriented(key, p).shape[1]
                break
        if H is None:
            raise ValueError("watch(): the mapping has no weight_hh_l0 (the recurrent weight); it is needed")

        targets = {}
        for key, p in entries.items():
            blocks = blocks_of(key, p)
            t = oriented(key, p)
            rows = t.shape[0]
            if rows != len(blocks) * H:
                raise ValueError(f"mapping[{key!r}]: {list(found[key].shape)} holds {rows} rows{' once transposed' if p.transposed else ''}, "
                                 f"expected {len(blocks)} gate block(s) of hidden size {H} = {len(blocks) * H}"
                                 + ("" if p.transposed or p.target.startswith("bias") else " (stored [in, out]? add 'T')"))
            slots = targets.setdefault(p.target, [None] * G)
            for j, b in enumerate(blocks):
                if slots[b] is not None:
                    raise ValueError(f"mapping: {p.target} gate {canonical[b] if canonical else 'block'} is given twice ({slots[b][0]!r} and {key!r})")
                slots[b] = (key, j, p.transposed and not p.target.startswith("bias"), p.target.startswith("bias") and found[key].dim() == 2)

        layers = sorted({int(_TARGET.match(t).group(3)) for t in targets})
        L = layers[-1] + 1
        D = 2 if any(t.endswith("_reverse") for t in targets) else 1
        bias = any(t.startswith("bias") for t in targets)
        zero_blocks = {}
        for t, slots in targets.items():
            missing = [canonical[b] if canonical else "all" for b, s in enumerate(slots) if s is None]
            if missing and t.startswith("weight"):
                raise ValueError(f"mapping: {t} is missing gate block(s) {','.join(missing)}")
            if missing:  # e.g. a GRU with one bias for r, z and two for n: the other blocks are zero
                zero_blocks[t] = "".join(missing)
        for layer in range(L):
            for d in range(D):
                for w in ("weight_ih", "weight_hh"):
                    if w + suffix(layer, d == 1) not in targets:
                        raise ValueError(f"mapping: {w}{suffix(layer, d == 1)} is missing (layers 0..{L - 1}, {D} direction(s) are mapped)")
        input_size = None
        for key, j, transposed, _ in targets["weight_ih_l0"]:
            cols = (found[key].t() if transposed else found[key]).shape[1]
            if input_size is not None and cols != input_size:
                raise ValueError(f"mapping: the weight_ih_l0 blocks disagree on the input size ({input_size} vs {cols} in {key!r})")
            input_size = cols
        for t, slots in targets.items():
            m = _TARGET.match(t)
            want = None
            if m.group(1) == "weight":
                want = H if m.group(2) == "hh" else (input_size if m.group(3) == "0" else D * H)
            if want is None:
                continue
            for key, j, transposed, _ in slots:
                cols = (found[key].t() if transposed else found[key]).shape[1]
                if cols != want:
                    raise ValueError(f"mapping[{key!r}] -> {t}: {cols} columns, expected {want}")
        if kind == "RNN":
            if nonlinearity not in ("tanh", "relu"):
                raise ValueError("watch(): a from-scratch Elman RNN does not say its nonlinearity; pass nonlinearity='tanh' or 'relu'")
        elif nonlinearity is not None:
            raise ValueError(f"watch(): nonlinearity is for RNNs, not {kind}")

        self.layout = "mapped"
        self.kind = kind
        self.nonlinearity = nonlinearity if kind == "RNN" else None
        self.batch_first = bool(batch_first)
        self.input_size = input_size
        self.hidden_size = H
        self.num_layers = L
        self.bidirectional = D == 2
        self.bias = bias
        self._targets = targets
        self.zero_blocks = zero_blocks
        self.mapping_json = {k: p.to_json() for k, p in entries.items()}
        self.unmapped = sorted(k for k in dict(module.named_parameters()) if k not in entries)
        self._names = []
        for layer in range(L):
            for d in range(D):
                s = suffix(layer, d == 1)
                self._names += ["weight_ih" + s, "weight_hh" + s] + (["bias_ih" + s, "bias_hh" + s] if bias else [])
        self.params()

    @staticmethod
    def _kind_from_shapes(entries, found):
        for key, p in entries.items():
            if p.target == "weight_hh_l0" and p.gates is None:
                t = found[key].t() if p.transposed else found[key]
                if t.dim() == 2 and t.shape[1] and t.shape[0] % t.shape[1] == 0:
                    kind = {4: "LSTM", 3: "GRU", 1: "RNN"}.get(t.shape[0] // t.shape[1])
                    if kind:
                        return kind
        raise ValueError("watch(): cannot tell LSTM, GRU or RNN from the mapping; pass module_type=")

    # -- weights -------------------------------------------------------------------------------------
    def params(self):
        """{PyTorch name: tensor} in state_dict order, on the module's device, detached."""
        if self.layout == "pytorch":
            out = {n: getattr(self.module, n).detach() for n in self._names}
        else:
            out = self._assemble()
        dtypes = {t.dtype for t in out.values()}
        devices = {t.device for t in out.values()}
        if len(dtypes) != 1 or not next(iter(dtypes)).is_floating_point:
            raise TypeError(f"watch({self.name!r}): weights must share one floating dtype, got {sorted(map(str, dtypes))}")
        if len(devices) != 1:
            raise TypeError(f"watch({self.name!r}): weights are on several devices ({sorted(map(str, devices))})")
        return out

    @torch.no_grad()
    def _assemble(self):
        found = _tensors_of(self.module)
        H = self.hidden_size
        out = {}
        ref = None
        for name in self._names:
            slots = self._targets.get(name)
            if slots is None:  # a bias the module does not have: PyTorch's equivalent is zero
                out[name] = None
                continue
            parts = []
            for slot in slots:
                if slot is None:  # a bias block the module does not have
                    parts.append(None)
                    continue
                key, j, transposed, flat = slot
                t = found[key].detach()
                if flat:
                    t = t.reshape(-1)
                if transposed:
                    t = t.t()
                parts.append(t[j * H:(j + 1) * H])
            if any(p is None for p in parts):
                like = next(p for p in parts if p is not None)
                parts = [like.new_zeros(H) if p is None else p for p in parts]
                t = torch.cat(parts, 0)
            elif len(parts) == 1 or all(s[0] == slots[0][0] for s in slots) and [s[1] for s in slots] == list(range(len(slots))):
                t = torch.cat(parts, 0) if slots[0][2] or slots[0][3] else found[slots[0][0]].detach()  # one whole tensor
            else:
                t = torch.cat(parts, 0)
            out[name] = t
            ref = ref if ref is not None else t
        for name, t in out.items():
            if t is None:
                out[name] = ref.new_zeros(gate_blocks(self.kind) * H)
        return out

    @property
    def dtype(self):
        return next(iter(self.params().values())).dtype

    @property
    def device(self):
        return next(iter(self.params().values())).device

    def config(self, params=None):
        """gatescope's model JSON spelling (PyTorch's constructor arguments)."""
        dtype = next(iter(params.values())).dtype if params else self.dtype
        return {
            "module": self.kind, "input_size": self.input_size, "hidden_size": self.hidden_size,
            "num_layers": self.num_layers, "bidirectional": self.bidirectional, "bias": self.bias,
            "batch_first": self.batch_first, "nonlinearity": self.nonlinearity, "dtype": _dtype_name(dtype),
        }

    def info(self):
        """What the start record says about the module besides its description."""
        cls = type(self.module)
        out = {"class": f"{cls.__module__}.{cls.__qualname__}", "layout": self.layout, "device": str(self.device)}
        if self.layout == "mapped":
            out["mapping"] = self.mapping_json
            if self.unmapped:
                out["unmapped"] = self.unmapped
            if self.zero_blocks:
                out["zero_bias_blocks"] = self.zero_blocks
        return out
