#!/usr/bin/env python3
"""Extra PyTorch reference cases for the core (run with Debian's python3-torch: /usr/bin/python3).

Writes test/fixtures/core/:
  optim.safetensors     parameters after each of 5 steps of every torch.optim rule we implement,
                        given the same gradient sequence, plus clip_grad_norm_/clip_grad_value_ results
  packed_<case>.safetensors  nn.LSTM/GRU/RNN over pack_padded_sequence with per-sequence lengths:
                        outputs (padded with 0), h_n, c_n and gradients of the fixtures' loss
  lm_steps.safetensors  CharModel (nn.LSTM + nn.Linear, one-hot input) trained 3 stateful windows with
                        cross-entropy, clip_grad_norm_(5) and Adam, in float64: losses, grad norms, weights
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "test", "fixtures"))
from gen_pytorch import write_safetensors  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "core")


def np_of(t):
    return t.detach().cpu().numpy().copy()


def optim_cases():
    torch.manual_seed(7)
    p0 = torch.randn(3, 4, dtype=torch.float64)
    grads = [torch.randn(3, 4, dtype=torch.float64) for _ in range(5)]
    out = {"p0": np_of(p0)}
    for k, g in enumerate(grads):
        out["grad%d" % k] = np_of(g)
    cases = {
        "sgd": dict(cls=torch.optim.SGD, kw=dict(lr=0.1)),
        "sgd_momentum": dict(cls=torch.optim.SGD, kw=dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01)),
        "sgd_nesterov": dict(cls=torch.optim.SGD, kw=dict(lr=0.1, momentum=0.9, nesterov=True)),
        "adam": dict(cls=torch.optim.Adam, kw=dict(lr=0.01)),
        "adam_wd": dict(cls=torch.optim.Adam, kw=dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
        "rmsprop": dict(cls=torch.optim.RMSprop, kw=dict(lr=0.01)),
        "rmsprop_centered": dict(cls=torch.optim.RMSprop, kw=dict(lr=0.01, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.01)),
        "adagrad": dict(cls=torch.optim.Adagrad, kw=dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1)),
    }
    meta = {}
    for name, c in cases.items():
        p = p0.clone().requires_grad_(True)
        opt = c["cls"]([p], **c["kw"])
        for k, g in enumerate(grads):
            p.grad = g.clone()
            opt.step()
            out["%s.step%d" % (name, k + 1)] = np_of(p)
        meta[name] = {k: list(v) if isinstance(v, tuple) else v for k, v in c["kw"].items()}
    # Clipping: two tensors, global norm 1.5 and value 0.3.
    a = grads[0].clone()
    b = grads[1][:2].clone()
    pa, pb = nn.Parameter(torch.zeros_like(a)), nn.Parameter(torch.zeros_like(b))
    pa.grad, pb.grad = a.clone(), b.clone()
    total = torch.nn.utils.clip_grad_norm_([pa, pb], 1.5)
    out["clip_norm.a"], out["clip_norm.b"] = np_of(pa.grad), np_of(pb.grad)
    out["clip_norm.total"] = np.array([total.item()])
    pa.grad, pb.grad = a.clone(), b.clone()
    torch.nn.utils.clip_grad_value_([pa, pb], 0.3)
    out["clip_value.a"], out["clip_value.b"] = np_of(pa.grad), np_of(pb.grad)
    write_safetensors(os.path.join(OUT, "optim.safetensors"), out, {"cases": json.dumps(meta)})


def packed_case(name, mode, input_size, hidden, layers, bidirectional, batch_first, T, lengths, seed):
    torch.manual_seed(seed)
    N = len(lengths)
    kw = dict(num_layers=layers, bidirectional=bidirectional, batch_first=batch_first)
    mod = {"LSTM": nn.LSTM, "GRU": nn.GRU, "RNN": nn.RNN}[mode](input_size, hidden, **kw).double()
    D = 2 if bidirectional else 1
    x = torch.randn(*((N, T) if batch_first else (T, N)), input_size, dtype=torch.float64, requires_grad=True)
    h0 = (torch.randn(layers * D, N, hidden, dtype=torch.float64) * 0.5).requires_grad_(True)
    c0 = (torch.randn(layers * D, N, hidden, dtype=torch.float64) * 0.5).requires_grad_(True)
    packed = nn.utils.rnn.pack_padded_sequence(x, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=False)
    if mode == "LSTM":
        out_p, (h_n, c_n) = mod(packed, (h0, c0))
    else:
        out_p, h_n = mod(packed, h0)
        c_n = None
    output, _ = nn.utils.rnn.pad_packed_sequence(out_p, batch_first=batch_first, total_length=T)
    R = torch.randn(output.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed + 1))
    loss = (output * R).sum() + h_n.pow(2).sum() * 0.5
    if c_n is not None:
        loss = loss + c_n.sum() * 0.25
    loss.backward()
    io = {"x": np_of(x), "h0": np_of(h0), "lengths": np.array(lengths, dtype=np.int64), "output": np_of(output),
          "h_n": np_of(h_n), "loss_projection": np_of(R), "grad_x": np_of(x.grad), "grad_h0": np_of(h0.grad)}
    if mode == "LSTM":
        io.update({"c0": np_of(c0), "c_n": np_of(c_n), "grad_c0": np_of(c0.grad)})
    for pname, p in mod.named_parameters():
        io["grad_" + pname] = np_of(p.grad)
        io["param." + pname] = np_of(p)
    cfg = {"module": mode, "input_size": input_size, "hidden_size": hidden, "num_layers": layers,
           "bidirectional": bidirectional, "batch_first": batch_first, "bias": True, "dtype": "float64"}
    write_safetensors(os.path.join(OUT, "packed_%s.safetensors" % name), io, {"config": json.dumps(cfg)})


def lm_steps():
    torch.manual_seed(11)
    V, H, B, T = 7, 6, 3, 5

    class CharModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.LSTM(V, H)
            self.head = nn.Linear(H, V)

    model = CharModel().double()
    init = {k: np_of(v) for k, v in model.state_dict().items()}
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    tokens = torch.randint(0, V, (3, B, T + 1))
    out = {"init." + k: v for k, v in init.items()}
    out["tokens"] = tokens.numpy().astype(np.int64)
    state = None
    losses, norms = [], []
    for s in range(3):
        inp, tgt = tokens[s, :, :T], tokens[s, :, 1:]
        x = nn.functional.one_hot(inp.t(), V).double()  # [T, B, V]
        y, (h, c) = model.rnn(x, state)
        logits = model.head(y)  # [T, B, V]
        loss = nn.functional.cross_entropy(logits.reshape(-1, V), tgt.t().reshape(-1))
        opt.zero_grad()
        loss.backward()
        norms.append(torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0).item())
        opt.step()
        state = (h.detach(), c.detach())
        losses.append(loss.item())
    for k, v in model.state_dict().items():
        out["final." + k] = np_of(v)
    out["losses"] = np.array(losses)
    out["grad_norms"] = np.array(norms)
    write_safetensors(os.path.join(OUT, "lm_steps.safetensors"), out,
                      {"config": json.dumps({"vocab": V, "hidden": H, "batch": B, "seq": T, "lr": 0.01, "clip": 5.0})})


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    optim_cases()
    packed_case("lstm_bi_2l", "LSTM", 3, 4, 2, True, False, 6, [6, 3, 1, 4], 31)
    packed_case("gru_bf_3l", "GRU", 4, 3, 3, False, True, 5, [2, 5, 4], 32)
    packed_case("rnn_bi", "RNN", 3, 4, 1, True, True, 4, [4, 1], 33)
    lm_steps()
    print("wrote", sorted(os.listdir(OUT)))
