"""Probe traces recomputed from the weights agree with what nn.LSTM / nn.GRU / nn.RNN compute themselves.

Every case watches a module, probes it, snapshots, reads probes/<tag>.safetensors back and checks, per
layer and direction, h (and c) at every step against the module itself: the whole module's output and
h_n / c_n, and a one-layer one-direction copy of each layer/direction stepped one timestep at a time
(that copy's output is h_t, its c_n is c_t). Gates are checked against the fixtures PyTorch wrote
(test/fixtures/pytorch) and against the cell equation they must satisfy.
"""
import itertools
import json
import os
import unittest

import torch
import torch.nn as nn

from _util import REPO_ROOT, RunDirCase, max_err, read_events

import gatescope

TOL = {torch.float64: 1e-12, torch.float32: 1e-6}
FIXTURES = os.path.join(REPO_ROOT, "test", "fixtures", "pytorch")


def make(kind, **kw):
    if kind == "LSTM":
        return nn.LSTM(**kw)
    if kind == "GRU":
        return nn.GRU(**kw)
    return nn.RNN(nonlinearity=kind.split("_")[1], **kw)


def layer_copy(module, layer, reverse):
    """A one-layer, one-direction module holding one layer/direction's weights of ``module``."""
    H = module.hidden_size
    D = 2 if module.bidirectional else 1
    in_size = module.input_size if layer == 0 else D * H
    kw = dict(input_size=in_size, hidden_size=H, bias=module.bias)
    if module.mode == "LSTM":
        m = nn.LSTM(**kw)
    elif module.mode == "GRU":
        m = nn.GRU(**kw)
    else:
        m = nn.RNN(nonlinearity="tanh" if module.mode == "RNN_TANH" else "relu", **kw)
    m = m.to(dtype=module.weight_hh_l0.dtype)
    s = f"_l{layer}{'_reverse' if reverse else ''}"
    with torch.no_grad():
        for n in m._flat_weights_names:
            getattr(m, n).copy_(getattr(module, n.replace("_l0", s)))
    return m


class TraceMatchesModules(RunDirCase):
    def check_case(self, kind, layers, bidirectional, batch_first, bias, dtype, T=6, N=3, F=4, H=5):
        torch.manual_seed(hash((kind, layers, bidirectional, batch_first, bias, str(dtype))) % 1000)
        m = make(kind, input_size=F, hidden_size=H, num_layers=layers, bidirectional=bidirectional,
                 batch_first=batch_first, bias=bias).to(dtype)
        x = torch.randn(N, T, F, dtype=dtype) if batch_first else torch.randn(T, N, F, dtype=dtype)
        run_dir = self.run_dir(f"{kind}{layers}{bidirectional}{batch_first}{bias}{dtype}")
        with gatescope.Run(run_dir) as run:
            run.watch(m, name="rnn")
            run.probe(x)
            run.snapshot("a")
        got, meta = gatescope.load_safetensors(os.path.join(run_dir, "probes", "a.safetensors"))
        tol = TOL[dtype]
        with torch.no_grad():
            out = m(x)
        output, state = out
        h_n, c_n = state if kind == "LSTM" else (state, None)
        if batch_first:
            output = output.transpose(0, 1)
        x_tm = x.transpose(0, 1) if batch_first else x
        D = 2 if bidirectional else 1
        G = {"LSTM": "ifgo", "GRU": "rzn"}.get(kind, "")
        expected_names = set()
        layer_in = x_tm
        for layer in range(layers):
            outs = []
            for d in range(D):
                s = f"_l{layer}{'_reverse' if d else ''}"
                names = [f"rnn.trace{s}_h"] + ([f"rnn.trace{s}_c"] if kind == "LSTM" else []) + [f"rnn.trace{s}_gate_{g}" for g in G]
                expected_names.update(names)
                h_tr = got[f"rnn.trace{s}_h"]
                self.assertEqual(h_tr.dtype, dtype)
                self.assertEqual(list(h_tr.shape), [T, N, H])
                # the module's own final state of this layer/direction
                self.assertLessEqual(max_err(h_tr[0 if d else -1], h_n[layer * D + d]), tol, s)
                if kind == "LSTM":
                    self.assertLessEqual(max_err(got[f"rnn.trace{s}_c"][0 if d else -1], c_n[layer * D + d]), tol, s)
                # a one-layer copy stepped one timestep at a time: h_t and c_t at every step
                one = layer_copy(m, layer, d == 1)
                seq = layer_in.flip(0) if d else layer_in
                hs, cs, st = [], [], None
                with torch.no_grad():
                    for t in range(T):
                        o, st = one(seq[t:t + 1], st)
                        hs.append(o[0])
                        if kind == "LSTM":
                            cs.append(st[1][0])
                hs = torch.stack(hs)
                if d:
                    hs = hs.flip(0)
                self.assertLessEqual(max_err(h_tr, hs), tol, s)
                if kind == "LSTM":
                    cs = torch.stack(cs)
                    c_tr = got[f"rnn.trace{s}_c"]
                    self.assertLessEqual(max_err(c_tr, cs.flip(0) if d else cs), tol, s)
                    i, f, g, o = (got[f"rnn.trace{s}_gate_{k}"] for k in "ifgo")
                    c_prev = torch.cat([c_tr[1:], torch.zeros_like(c_tr[:1])]) if d else torch.cat([torch.zeros_like(c_tr[:1]), c_tr[:-1]])
                    self.assertLessEqual(max_err(f * c_prev + i * g, c_tr), 10 * tol)
                    self.assertLessEqual(max_err(o * c_tr.tanh(), h_tr), 10 * tol)
                    self.assertTrue(bool(((i > 0) & (i < 1)).all()) and bool((g.abs() <= 1).all()))
                elif kind == "GRU":
                    r, z, n = (got[f"rnn.trace{s}_gate_{k}"] for k in "rzn")
                    h_prev = torch.cat([h_tr[1:], torch.zeros_like(h_tr[:1])]) if d else torch.cat([torch.zeros_like(h_tr[:1]), h_tr[:-1]])
                    self.assertLessEqual(max_err((1 - z) * n + z * h_prev, h_tr), 10 * tol)
                    self.assertTrue(bool(((r > 0) & (r < 1)).all()))
                outs.append(h_tr)
            layer_in = torch.cat(outs, 2) if D == 2 else outs[0]
        # the last layer's h is the module's output
        self.assertLessEqual(max_err(layer_in, output), tol)
        self.assertEqual(set(got), expected_names | {"rnn.probe_x"})
        self.assertTrue(torch.equal(got["rnn.probe_x"], x))
        self.assertIn("trace_layout", meta)
        model = read_events(run_dir)[0]["model"]["rnn"]
        self.assertEqual(model, {
            "module": kind.split("_")[0], "input_size": F, "hidden_size": H, "num_layers": layers,
            "bidirectional": bidirectional, "bias": bias, "batch_first": batch_first,
            "nonlinearity": kind.split("_")[1] if kind.startswith("RNN") else None, "dtype": str(dtype).replace("torch.", ""),
        })

    def test_every_module_structure_and_dtype(self):
        kinds = ["LSTM", "GRU", "RNN_tanh", "RNN_relu"]
        shapes = [(1, False), (1, True), (2, False), (2, True), (3, True)]
        for k, (kind, (layers, bi), dtype) in enumerate(itertools.product(kinds, shapes, [torch.float64, torch.float32])):
            batch_first = k % 2 == 0
            bias = k % 3 != 1
            with self.subTest(kind=kind, layers=layers, bidirectional=bi, batch_first=batch_first, bias=bias, dtype=dtype):
                self.check_case(kind, layers, bi, batch_first, bias, dtype)

    def test_both_layouts_and_biases_of_each_module(self):
        for kind, batch_first, bias in itertools.product(["LSTM", "GRU", "RNN_tanh", "RNN_relu"], [False, True], [False, True]):
            with self.subTest(kind=kind, batch_first=batch_first, bias=bias):
                self.check_case(kind, 2, True, batch_first, bias, torch.float64, T=4, N=2)

    def test_one_step_one_sequence(self):
        self.check_case("LSTM", 1, True, True, True, torch.float64, T=1, N=1)


@unittest.skipUnless(os.path.isdir(FIXTURES), "test/fixtures/pytorch is not in this checkout")
class TraceMatchesFixtures(unittest.TestCase):
    """gatescope.recompute reproduces every trace tensor of the PyTorch fixtures (gates included)."""

    def test_fixture_cases(self):
        cases = sorted(c for c in os.listdir(FIXTURES) if os.path.isfile(os.path.join(FIXTURES, c, "io.safetensors")))
        self.assertGreater(len(cases), 5)
        for case in cases:
            with self.subTest(case=case):
                with open(os.path.join(FIXTURES, case, "case.json")) as f:
                    cfg = json.load(f)
                params, _ = gatescope.load_safetensors(os.path.join(FIXTURES, case, "weights.safetensors"))
                io, _ = gatescope.load_safetensors(os.path.join(FIXTURES, case, "io.safetensors"))
                x = io["x"].transpose(0, 1) if cfg["batch_first"] else io["x"]
                traces, output, h_n, c_n = gatescope.recompute(cfg, params, x, io.get("h0"), io.get("c0"))
                tol = TOL[x.dtype]
                want = {k: v for k, v in io.items() if k.startswith("trace_")}
                self.assertEqual(set(traces), set(want))
                for name, t in want.items():
                    self.assertLessEqual(max_err(traces[name], t), tol, name)
                out = io["output"].transpose(0, 1) if cfg["batch_first"] else io["output"]
                self.assertLessEqual(max_err(output, out), tol)
                self.assertLessEqual(max_err(h_n, io["h_n"]), tol)
                if c_n is not None:
                    self.assertLessEqual(max_err(c_n, io["c_n"]), tol)


if __name__ == "__main__":
    unittest.main()
