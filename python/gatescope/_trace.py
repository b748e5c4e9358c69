"""Every per-timestep tensor of a recurrent stack, recomputed from its weights with PyTorch's equations.

This is the forward of ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` (eval mode, zero initial state) written out
one step at a time, in the order ATen's CPU kernels (aten/src/ATen/native/RNN.cpp) evaluate it, so that
the last layer's h equals the module's ``output`` and the final states equal ``h_n`` / ``c_n`` to
rounding. It keeps what the fused op throws away: for layer k and direction d (``_reverse``)

    LSTM  gates = W_hh h + b_hh + (W_ih x + b_ih), chunked i | f | g | o
          i = σ(.), f = σ(.), g = tanh(.), o = σ(.);  c' = f * c + i * g;  h' = o * tanh(c')
    GRU   r = σ(W_hr h + b_hr + W_ir x + b_ir),  z = σ(W_hz h + b_hz + W_iz x + b_iz)
          n = tanh(W_in x + b_in + r * (W_hn h + b_hn));  h' = (h - n) * z + n   (= (1 - z) n + z h)
    RNN   h' = tanh | relu(W_hh h + b_hh + W_ih x + b_ih)

The input projection W_ih x + b_ih of a whole sequence is one matrix product per layer and direction,
as in ATen; the reverse direction reads t = T-1 .. 0 and its trace is stored in forward time order.
"""
import torch
import torch.nn.functional as F

GATES = {"LSTM": ("i", "f", "g", "o"), "GRU": ("r", "z", "n"), "RNN": ()}


def gate_blocks(module):
    return {"LSTM": 4, "GRU": 3, "RNN": 1}[module]


def suffix(layer, reverse):
    return f"_l{layer}{'_reverse' if reverse else ''}"


def trace_names(module, layer, reverse):
    """Tensor names of one layer/direction's trace, as gatescope's fixtures and `trace` write them."""
    s = suffix(layer, reverse)
    names = [f"trace{s}_h"]
    if module == "LSTM":
        names.append(f"trace{s}_c")
    names += [f"trace{s}_gate_{g}" for g in GATES[module]]
    return names


def _direction(module, nonlinearity, xw, w_hh, b_hh, reverse, h, c):
    """One direction of one layer over a projected input xw [T, N, G*H] from states h, c [N, H]."""
    T, N = xw.shape[0], xw.shape[1]
    H = w_hh.shape[1]
    h = xw.new_zeros(N, H) if h is None else h
    if module == "LSTM":
        c = xw.new_zeros(N, H) if c is None else c
    out = {"h": xw.new_empty(T, N, H)}
    if module == "LSTM":
        out["c"] = xw.new_empty(T, N, H)
    for g in GATES[module]:
        out["gate_" + g] = xw.new_empty(T, N, H)
    steps = range(T - 1, -1, -1) if reverse else range(T)
    for t in steps:
        hw = F.linear(h, w_hh, b_hh)
        if module == "LSTM":
            gates = hw.add_(xw[t])
            i, f, g, o = gates.chunk(4, 1)
            i = i.sigmoid()
            f = f.sigmoid()
            g = g.tanh()
            o = o.sigmoid()
            c = (f * c).add_(i * g)
            h = o * c.tanh()
            out["c"][t] = c
            out["gate_i"][t] = i
            out["gate_f"][t] = f
            out["gate_g"][t] = g
            out["gate_o"][t] = o
        elif module == "GRU":
            xr, xz, xn = xw[t].chunk(3, 1)
            hr, hz, hn = hw.chunk(3, 1)
            r = (hr + xr).sigmoid()
            z = (hz + xz).sigmoid()
            n = xn.add(hn * r).tanh()
            h = (h - n).mul_(z).add_(n)
            out["gate_r"][t] = r
            out["gate_z"][t] = z
            out["gate_n"][t] = n
        else:
            pre = hw.add_(xw[t])
            h = pre.tanh() if nonlinearity == "tanh" else pre.relu()
        out["h"][t] = h
    return out


@torch.no_grad()
def recompute(config, params, x, h0=None, c0=None):
    """Traces of a stack described by ``config`` (gatescope's model JSON) with canonical ``params``.

    ``x`` is time-major [T, N, input_size] on the parameters' device and dtype (``config``'s
    batch_first is not looked at); ``h0`` / ``c0`` [L*D, N, H] are the initial states (default zero,
    as the probes use). Returns
    ``(traces, output, h_n, c_n)``: traces named ``trace_l{k}[_reverse]_{h|c|gate_*}`` [T, N, H],
    ``output`` [T, N, D*H], ``h_n`` / ``c_n`` [L*D, N, H] (c_n None unless LSTM).
    """
    module = config["module"]
    nonlinearity = config.get("nonlinearity") or "tanh"
    D = 2 if config["bidirectional"] else 1
    traces = {}
    finals_h, finals_c = [], []
    layer_input = x
    for layer in range(config["num_layers"]):
        outs = []
        for d in range(D):
            s = suffix(layer, d == 1)
            w_ih = params["weight_ih" + s]
            w_hh = params["weight_hh" + s]
            b_ih = params.get("bias_ih" + s)
            b_hh = params.get("bias_hh" + s)
            xw = F.linear(layer_input, w_ih, b_ih)
            k = layer * D + d
            parts = _direction(module, nonlinearity, xw, w_hh, b_hh, d == 1,
                               None if h0 is None else h0[k], None if c0 is None or module != "LSTM" else c0[k])
            for part, tensor in parts.items():
                traces[f"trace{s}_{part}"] = tensor
            outs.append(parts["h"])
            # the final state is the one after the last step the direction read
            finals_h.append(parts["h"][0 if d == 1 else -1])
            if module == "LSTM":
                finals_c.append(parts["c"][0 if d == 1 else -1])
        layer_input = torch.cat(outs, 2) if D == 2 else outs[0]
    h_n = torch.stack(finals_h, 0)
    c_n = torch.stack(finals_c, 0) if module == "LSTM" else None
    return traces, layer_input, h_n, c_n
