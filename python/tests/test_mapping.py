"""From-scratch modules watched through a mapping to PyTorch's names give nn.LSTM's snapshot and traces.

Each module below computes its own forward with its own parameter layout (per-gate matrices, fused
blocks in another gate order, Keras kernels used as x @ W, min-char-rnn's column vectors). Watched with
the mapping that describes that layout, its snapshot must equal the snapshot of the PyTorch module
holding the same weights, and the recomputed traces must equal the module's own outputs.
"""
import os
import unittest

import torch
import torch.nn as nn

from _util import RunDirCase, max_err, read_events

import gatescope

TOL = 1e-12
H, F, T, N = 5, 3, 6, 2


class MyLSTM(nn.Module):
    """The course exercise: one matrix per gate, x W^T + b_i + h U^T + b_h, like the equations on the slide."""

    def __init__(self, input_size, hidden_size, hidden_bias=True):
        super().__init__()
        for g in "ifgo":
            setattr(self, f"W_i{g}", nn.Parameter(torch.randn(hidden_size, input_size, dtype=torch.float64) * 0.4))
            setattr(self, f"W_h{g}", nn.Parameter(torch.randn(hidden_size, hidden_size, dtype=torch.float64) * 0.4))
            setattr(self, f"b_i{g}", nn.Parameter(torch.randn(hidden_size, dtype=torch.float64) * 0.1))
            if hidden_bias:
                setattr(self, f"b_h{g}", nn.Parameter(torch.randn(hidden_size, dtype=torch.float64) * 0.1))
        self.hidden_bias = hidden_bias
        self.head = nn.Linear(hidden_size, 2).double()

    def gate(self, g, x, h):
        z = x @ getattr(self, f"W_i{g}").T + getattr(self, f"b_i{g}") + h @ getattr(self, f"W_h{g}").T
        return z + getattr(self, f"b_h{g}") if self.hidden_bias else z

    def forward(self, x):  # x [T, N, F] -> all h [T, N, H]
        h = c = x.new_zeros(x.shape[1], self.W_hi.shape[0])
        hs = []
        for t in range(x.shape[0]):
            i, f = torch.sigmoid(self.gate("i", x[t], h)), torch.sigmoid(self.gate("f", x[t], h))
            g, o = torch.tanh(self.gate("g", x[t], h)), torch.sigmoid(self.gate("o", x[t], h))
            c = f * c + i * g
            h = o * torch.tanh(c)
            hs.append(h)
        return torch.stack(hs)

    def mapping(self):
        m = {}
        for g in "ifgo":
            m[f"W_i{g}"] = ("weight_ih_l0", g)
            m[f"W_h{g}"] = ("weight_hh_l0", g)
            m[f"b_i{g}"] = ("bias_ih_l0", g)
            if self.hidden_bias:
                m[f"b_h{g}"] = ("bias_hh_l0", g)
        return m

    def to_torch(self):
        lstm = nn.LSTM(self.W_ii.shape[1], self.W_hi.shape[0]).double()
        with torch.no_grad():
            lstm.weight_ih_l0.copy_(torch.cat([getattr(self, f"W_i{g}") for g in "ifgo"]))
            lstm.weight_hh_l0.copy_(torch.cat([getattr(self, f"W_h{g}") for g in "ifgo"]))
            lstm.bias_ih_l0.copy_(torch.cat([getattr(self, f"b_i{g}") for g in "ifgo"]))
            if self.hidden_bias:
                lstm.bias_hh_l0.copy_(torch.cat([getattr(self, f"b_h{g}") for g in "ifgo"]))
            else:
                lstm.bias_hh_l0.zero_()
        return lstm


class FusedLSTM(nn.Module):
    """Fused W [4H, in], U [4H, H], one bias b, blocks in the order i, f, o, g (Lua char-rnn's)."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.W = nn.Parameter(torch.randn(4 * hidden_size, input_size, dtype=torch.float64) * 0.4)
        self.U = nn.Parameter(torch.randn(4 * hidden_size, hidden_size, dtype=torch.float64) * 0.4)
        self.b = nn.Parameter(torch.randn(4 * hidden_size, dtype=torch.float64) * 0.1)

    def forward(self, x):
        h = c = x.new_zeros(x.shape[1], self.U.shape[1])
        hs = []
        for t in range(x.shape[0]):
            i, f, o, g = (x[t] @ self.W.T + h @ self.U.T + self.b).chunk(4, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            hs.append(h)
        return torch.stack(hs)

    def to_torch(self):
        lstm = nn.LSTM(self.W.shape[1], self.U.shape[1]).double()
        perm = lambda t: torch.cat([t.chunk(4)[k] for k in (0, 1, 3, 2)])  # i f o g -> i f g o
        with torch.no_grad():
            lstm.weight_ih_l0.copy_(perm(self.W))
            lstm.weight_hh_l0.copy_(perm(self.U))
            lstm.bias_ih_l0.copy_(perm(self.b))
            lstm.bias_hh_l0.zero_()
        return lstm


class KerasLSTM(nn.Module):
    """Keras' layout: kernel [in, 4H], recurrent_kernel [H, 4H], bias [4H], gate order i, f, c, o, x @ W."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.kernel = nn.Parameter(torch.randn(input_size, 4 * hidden_size, dtype=torch.float64) * 0.4)
        self.recurrent_kernel = nn.Parameter(torch.randn(hidden_size, 4 * hidden_size, dtype=torch.float64) * 0.4)
        self.bias = nn.Parameter(torch.randn(4 * hidden_size, dtype=torch.float64) * 0.1)

    def forward(self, x):
        h = c = x.new_zeros(x.shape[1], self.recurrent_kernel.shape[0])
        hs = []
        for t in range(x.shape[0]):
            i, f, cc, o = (x[t] @ self.kernel + h @ self.recurrent_kernel + self.bias).chunk(4, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(cc)
            h = torch.sigmoid(o) * torch.tanh(c)
            hs.append(h)
        return torch.stack(hs)

    def to_torch(self):
        lstm = nn.LSTM(self.kernel.shape[0], self.recurrent_kernel.shape[0]).double()
        with torch.no_grad():
            lstm.weight_ih_l0.copy_(self.kernel.T)  # i f c o is PyTorch's i f g o
            lstm.weight_hh_l0.copy_(self.recurrent_kernel.T)
            lstm.bias_ih_l0.copy_(self.bias)
            lstm.bias_hh_l0.zero_()
        return lstm


class MyGRU(nn.Module):
    """Per-gate GRU in PyTorch's reset-after form: n = tanh(W_n x + b_in + r * (U_n h + b_hn))."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        mk = lambda *s: nn.Parameter(torch.randn(*s, dtype=torch.float64) * 0.4)
        self.W_r, self.W_z, self.W_h = mk(hidden_size, input_size), mk(hidden_size, input_size), mk(hidden_size, input_size)
        self.U_r, self.U_z, self.U_h = mk(hidden_size, hidden_size), mk(hidden_size, hidden_size), mk(hidden_size, hidden_size)
        self.b_r, self.b_z, self.b_in, self.b_hn = mk(hidden_size), mk(hidden_size), mk(hidden_size), mk(hidden_size)

    def forward(self, x):
        h = x.new_zeros(x.shape[1], self.U_r.shape[0])
        hs = []
        for t in range(x.shape[0]):
            r = torch.sigmoid(x[t] @ self.W_r.T + h @ self.U_r.T + self.b_r)
            z = torch.sigmoid(x[t] @ self.W_z.T + h @ self.U_z.T + self.b_z)
            n = torch.tanh(x[t] @ self.W_h.T + self.b_in + r * (h @ self.U_h.T + self.b_hn))
            h = (1 - z) * n + z * h
            hs.append(h)
        return torch.stack(hs)

    MAPPING = {
        "W_r": ("weight_ih_l0", "r"), "W_z": ("weight_ih_l0", "z"), "W_h": {"target": "weight_ih_l0", "gates": "h"},
        "U_r": ("weight_hh_l0", "r"), "U_z": ("weight_hh_l0", "z"), "U_h": gatescope.Param("weight_hh_l0", "n"),
        "b_r": ("bias_ih_l0", "r"), "b_z": ("bias_ih_l0", "z"), "b_in": ("bias_ih_l0", "n"), "b_hn": ("bias_hh_l0", "n"),
    }


class MinCharRnn(nn.Module):
    """Karpathy's min-char-rnn: h = tanh(Wxh x + Whh h + bh) with column vectors, bh [H, 1]."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.Wxh = nn.Parameter(torch.randn(hidden_size, input_size, dtype=torch.float64) * 0.4)
        self.Whh = nn.Parameter(torch.randn(hidden_size, hidden_size, dtype=torch.float64) * 0.4)
        self.bh = nn.Parameter(torch.randn(hidden_size, 1, dtype=torch.float64) * 0.1)

    def forward(self, x):
        h = x.new_zeros(self.Whh.shape[0], x.shape[1])
        hs = []
        for t in range(x.shape[0]):
            h = torch.tanh(self.Wxh @ x[t].T + self.Whh @ h + self.bh)
            hs.append(h.T)
        return torch.stack(hs)


class MappedModules(RunDirCase):
    def snapshot_both(self, mine, mapping, reference, x, **watch_kw):
        run_dir = self.run_dir()
        with gatescope.Run(run_dir) as run:
            run.watch(mine, name="mine", mapping=mapping, **watch_kw)
            run.watch(reference, name="torch")
            run.probe(x)
            run.snapshot("a")
        weights, _ = gatescope.load_safetensors(os.path.join(run_dir, "snapshots", "a.safetensors"))
        probes, _ = gatescope.load_safetensors(os.path.join(run_dir, "probes", "a.safetensors"))
        ours = {k[len("mine."):]: v for k, v in weights.items() if k.startswith("mine.")}
        theirs = {k[len("torch."):]: v for k, v in weights.items() if k.startswith("torch.")}
        self.assertEqual(list(ours), list(theirs), "same names in the same (state_dict) order")
        for k in theirs:
            self.assertTrue(torch.equal(ours[k], theirs[k]), k)
        for k in [k for k in probes if k.startswith("torch.")]:
            self.assertTrue(torch.equal(probes["mine" + k[len("torch"):]], probes[k]), k)
        events = read_events(run_dir)
        model = events[0]["model"]
        self.assertEqual(model["mine"], dict(model["torch"], batch_first=model["mine"]["batch_first"]))
        self.assertEqual(events[0]["modules"]["mine"]["layout"], "mapped")
        return probes, events

    def test_my_lstm_per_gate_matches_nn_lstm(self):
        torch.manual_seed(0)
        x = torch.randn(T, N, F, dtype=torch.float64)
        for hidden_bias in (True, False):
            with self.subTest(hidden_bias=hidden_bias):
                mine = MyLSTM(F, H, hidden_bias)
                probes, events = self.snapshot_both(mine, mine.mapping(), mine.to_torch(), x)
                with torch.no_grad():
                    self.assertLessEqual(max_err(probes["mine.trace_l0_h"], mine(x)), TOL)
                self.assertEqual(events[0]["modules"]["mine"]["unmapped"], ["head.bias", "head.weight"])
                self.assertEqual(events[0]["modules"]["mine"]["mapping"]["W_ig"], {"target": "weight_ih_l0", "gates": "g", "transposed": False})

    def test_fused_ifog(self):
        torch.manual_seed(1)
        mine = FusedLSTM(F, H)
        x = torch.randn(T, N, F, dtype=torch.float64)
        mapping = {"W": ("weight_ih_l0", "ifog"), "U": ("weight_hh_l0", "i,f,o,g"), "b": ("bias_ih_l0", "ifog")}
        probes, _ = self.snapshot_both(mine, mapping, mine.to_torch(), x)
        with torch.no_grad():
            self.assertLessEqual(max_err(probes["mine.trace_l0_h"], mine(x)), TOL)

    def test_keras_ifco_transposed(self):
        torch.manual_seed(2)
        mine = KerasLSTM(F, H)
        x = torch.randn(N, T, F, dtype=torch.float64)  # batch-first, as Keras
        mapping = {"kernel": ("weight_ih_l0", "ifco", "T"), "recurrent_kernel": ("weight_hh_l0", "ifco", "T"),
                   "bias": ("bias_ih_l0", "ifco")}
        ref = mine.to_torch()
        ref.batch_first = True
        probes, _ = self.snapshot_both(mine, mapping, ref, x, batch_first=True)
        with torch.no_grad():
            self.assertLessEqual(max_err(probes["mine.trace_l0_h"], mine(x.transpose(0, 1))), TOL)

    def test_gru_per_gate(self):
        torch.manual_seed(3)
        mine = MyGRU(F, H)
        ref = nn.GRU(F, H).double()
        with torch.no_grad():
            ref.weight_ih_l0.copy_(torch.cat([mine.W_r, mine.W_z, mine.W_h]))
            ref.weight_hh_l0.copy_(torch.cat([mine.U_r, mine.U_z, mine.U_h]))
            ref.bias_ih_l0.copy_(torch.cat([mine.b_r, mine.b_z, mine.b_in]))
            ref.bias_hh_l0.copy_(torch.cat([torch.zeros(2 * H, dtype=torch.float64), mine.b_hn]))
        x = torch.randn(T, N, F, dtype=torch.float64)
        probes, _ = self.snapshot_both(mine, MyGRU.MAPPING, ref, x)
        with torch.no_grad():
            self.assertLessEqual(max_err(probes["mine.trace_l0_h"], mine(x)), TOL)

    def test_min_char_rnn(self):
        torch.manual_seed(4)
        mine = MinCharRnn(F, H)
        ref = nn.RNN(F, H).double()
        with torch.no_grad():
            ref.weight_ih_l0.copy_(mine.Wxh)
            ref.weight_hh_l0.copy_(mine.Whh)
            ref.bias_ih_l0.copy_(mine.bh[:, 0])
            ref.bias_hh_l0.zero_()
        x = torch.randn(T, N, F, dtype=torch.float64)
        mapping = {"Wxh": "weight_ih_l0", "Whh": "weight_hh_l0", "bh": "bias_ih_l0"}
        probes, _ = self.snapshot_both(mine, mapping, ref, x, nonlinearity="tanh")
        with torch.no_grad():
            self.assertLessEqual(max_err(probes["mine.trace_l0_h"], mine(x)), TOL)

    def test_whole_tensors_of_a_deep_bidirectional_stack(self):
        torch.manual_seed(5)
        ref = nn.GRU(F, H, num_layers=2, bidirectional=True, bias=False).double()
        holder = nn.Module()
        holder.params = nn.ParameterDict({n.replace("_", ""): nn.Parameter(getattr(ref, n).detach().clone()) for n in ref._flat_weights_names})
        mapping = {f"params.{n.replace('_', '')}": n for n in ref._flat_weights_names}
        self.snapshot_both(holder, mapping, ref, torch.randn(T, N, F, dtype=torch.float64))

    def test_the_snapshot_follows_training(self):
        torch.manual_seed(6)
        mine = MyLSTM(F, H)
        run_dir = self.run_dir()
        with gatescope.Run(run_dir) as run:
            run.watch(mine, name="mine", mapping=mine.mapping())
            run.snapshot("before")
            with torch.no_grad():
                mine.W_hf.add_(1.0)
            run.snapshot("after")
        a, _ = gatescope.load_safetensors(os.path.join(run_dir, "snapshots", "before.safetensors"))
        b, _ = gatescope.load_safetensors(os.path.join(run_dir, "snapshots", "after.safetensors"))
        d = b["mine.weight_hh_l0"] - a["mine.weight_hh_l0"]
        self.assertLessEqual(max_err(d[H:2 * H], torch.ones(H, H)), 1e-15)
        self.assertEqual(float(d[:H].abs().max()), 0.0)
        self.assertEqual(float(d[2 * H:].abs().max()), 0.0)


class MappingErrors(RunDirCase):
    def watch(self, module, mapping, **kw):
        with gatescope.Run(self.run_dir()) as run:
            run.watch(module, name="m", mapping=mapping, **kw)

    def test_refusals_say_what_is_wrong(self):
        mine = MyLSTM(F, H)
        full = mine.mapping()
        missing = {k: v for k, v in full.items() if k != "W_io"}
        with self.assertRaisesRegex(ValueError, r"weight_ih_l0 is missing gate block\(s\) o"):
            self.watch(mine, missing)
        with self.assertRaisesRegex(KeyError, "no parameter or buffer 'W_xx'"):
            self.watch(mine, dict(full, W_xx=("weight_ih_l0", "i")))
        with self.assertRaisesRegex(ValueError, "given twice"):
            self.watch(mine, dict(full, W_io=("weight_ih_l0", "i")))
        with self.assertRaisesRegex(ValueError, "neither LSTM"):
            self.watch(mine, dict(full, W_io=("weight_ih_l0", "r")))
        with self.assertRaisesRegex(ValueError, "not a PyTorch RNN parameter name"):
            self.watch(mine, dict(full, W_io=("weight_xy_l0", "o")))
        keras = KerasLSTM(F, H)
        with self.assertRaisesRegex(ValueError, "add 'T'"):
            self.watch(keras, {"kernel": ("weight_ih_l0", "ifco"), "recurrent_kernel": ("weight_hh_l0", "ifco", "T")})
        with self.assertRaisesRegex(ValueError, "nonlinearity"):
            self.watch(MinCharRnn(F, H), {"Wxh": "weight_ih_l0", "Whh": "weight_hh_l0"})
        with self.assertRaisesRegex(TypeError, "contains lstm"):
            model = nn.Module()
            model.lstm = nn.LSTM(F, H)
            self.watch(model, None)


if __name__ == "__main__":
    unittest.main()
