#!/usr/bin/python3
"""Small real files in other frameworks' formats for gatescope's import tests.

Run with Debian's Python (torch, numpy, h5py, onnx): /usr/bin/python3 scripts/gen_format_fixtures.py
Writes test/fixtures/formats/. Everything is seeded, so reruns give the same numbers.
"""
import json
import os
import sys

import numpy as np
import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "formats")


def out(*parts):
    p = os.path.join(ROOT, *parts)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    return p


def save_json(obj, *parts):
    with open(out(*parts), "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
        f.write("\n")


def gen_pt_and_npy():
    """torch.save variants (zip, legacy, views, checkpoints, whole modules) and numpy layouts."""
    torch.manual_seed(1)
    lstm = torch.nn.LSTM(3, 2).double()
    sd = lstm.state_dict()
    torch.save(sd, out("pt", "legacy.pt"), _use_new_zipfile_serialization=False)
    torch.save(sd, out("pt", "zip.pt"))
    # Views into one shared storage, a transposed (non-contiguous) tensor, several dtypes.
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    views = {"whole": base, "row": base[1], "cols": base[:, 2:4], "t": base.t(),
             "i64": torch.tensor([1, -2, 3 << 40]), "half": torch.tensor([0.5, -2.0], dtype=torch.float16),
             "b": torch.tensor([True, False])}
    torch.save(views, out("pt", "views.pt"))
    torch.save(views, out("pt", "views_legacy.pt"), _use_new_zipfile_serialization=False)
    torch.save({"model": sd, "epoch": 3, "lr": 0.1}, out("pt", "checkpoint.pt"))
    torch.save(lstm, out("pt", "whole_module.pt"))
    torch.save(lstm, out("pt", "whole_module_legacy.pt"), _use_new_zipfile_serialization=False)
    torch.save(torch.nn.Parameter(torch.ones(2, 2)), out("pt", "parameter.pt"))
    expect = {k: {"shape": list(v.shape), "values": v.double().flatten().tolist() if v.dtype != torch.int64 else [str(x) for x in v.flatten().tolist()]}
              for k, v in views.items()}
    save_json(expect, "pt", "views.json")

    a = np.arange(12, dtype=np.float64).reshape(3, 4) / 7
    np.save(out("npy", "c_f8.npy"), a)
    np.save(out("npy", "fortran_f8.npy"), np.asfortranarray(a))
    np.save(out("npy", "big_f4.npy"), a.astype(">f4"))
    np.save(out("npy", "big_fortran_i8.npy"), np.asfortranarray(np.arange(24, dtype=">i8").reshape(2, 3, 4)))
    np.save(out("npy", "u2.npy"), np.array([1, 65535], dtype=np.uint16))
    np.save(out("npy", "scalar.npy"), np.float64(2.5))
    np.savez_compressed(out("npy", "compressed.npz"), a=a, b=np.arange(5, dtype=np.int32))



# ---------------------------------------------------------------- reference maths (numpy, float64)

def hsig(v):
    return np.clip(0.2 * v + 0.5, 0.0, 1.0)


def sig(v):
    return 1.0 / (1.0 + np.exp(-v))


def run_direction(module, p, x, ra, reset, nl):
    """One direction over x [T, N, in] with canonical params p (W_ih, W_hh, b_ih, b_hh)."""
    gate = hsig if ra == "hard_sigmoid" else sig
    T, N, _ = x.shape
    H = p["W_hh"].shape[1]
    h = np.zeros((N, H))
    c = np.zeros((N, H))
    out = []
    for t in range(T):
        gi = x[t] @ p["W_ih"].T + p["b_ih"]
        if module == "LSTM":
            g = gi + h @ p["W_hh"].T + p["b_hh"]
            i, f, gg, o = np.split(g, 4, axis=1)
            c = gate(f) * c + gate(i) * np.tanh(gg)
            h = gate(o) * np.tanh(c)
        elif module == "GRU":
            Wr, Wz, Wn = np.split(p["W_hh"], 3, axis=0)
            br, bz, bn = np.split(p["b_hh"], 3)
            ir, iz, inn = np.split(gi, 3, axis=1)
            r = gate(ir + h @ Wr.T + br)
            z = gate(iz + h @ Wz.T + bz)
            if reset == "after":
                n = np.tanh(inn + r * (h @ Wn.T + bn))
            else:
                n = np.tanh(inn + (r * h) @ Wn.T + bn)
            h = (1 - z) * n + z * h
        else:
            a = gi + h @ p["W_hh"].T + p["b_hh"]
            h = np.maximum(a, 0) if nl == "relu" else np.tanh(a)
        out.append(h)
    return np.stack(out)


def run_stack(module, params, layers, bidi, x, ra="sigmoid", reset="after", nl="tanh"):
    """params: canonical numpy dict (weight_ih_l0, ...). Returns output [T, N, D*H]."""
    inp = x
    for l in range(layers):
        outs = []
        for d in range(2 if bidi else 1):
            s = "_l%d%s" % (l, "_reverse" if d else "")
            H = params["weight_hh" + s].shape[1]
            G = params["weight_hh" + s].shape[0]
            p = {"W_ih": params["weight_ih" + s], "W_hh": params["weight_hh" + s],
                 "b_ih": params.get("bias_ih" + s, np.zeros(G)), "b_hh": params.get("bias_hh" + s, np.zeros(G))}
            seq = inp[::-1] if d else inp
            o = run_direction(module, p, seq, ra, reset, nl)
            outs.append(o[::-1] if d else o)
        inp = np.concatenate(outs, axis=2)
    return inp


def torch_params(mod):
    return {k: v.detach().double().numpy() for k, v in mod.state_dict().items()}


def check_against_torch():
    """The numpy equations agree with nn.LSTM / nn.GRU / nn.RNN (so they can stand in where torch has no module)."""
    torch.manual_seed(5)
    x = np.random.RandomState(0).randn(4, 2, 3)
    for cls, kw, module in [(torch.nn.LSTM, {}, "LSTM"), (torch.nn.GRU, {"bidirectional": True}, "GRU"),
                            (torch.nn.RNN, {"nonlinearity": "relu", "num_layers": 2}, "RNN")]:
        m = cls(3, 5, **kw).double()
        ref = m(torch.from_numpy(x))[0].detach().numpy()
        mine = run_stack(module, torch_params(m), m.num_layers, m.bidirectional, x, nl=kw.get("nonlinearity", "tanh"))
        assert np.abs(ref - mine).max() < 1e-12, (module, np.abs(ref - mine).max())


# ---------------------------------------------------------------- canonical → foreign layouts

KERAS_ORDER = {"LSTM": [0, 1, 2, 3], "GRU": [1, 0, 2], "RNN": [0]}  # keras block k = canonical block ORDER[k]


def blocks(a, order):
    parts = np.split(a, len(order), axis=0)
    return np.concatenate([parts[k] for k in order], axis=0)


def keras_cell(module, params, s, reset_after=True):
    o = KERAS_ORDER[module]
    kernel = blocks(params["weight_ih" + s], o).T
    rk = blocks(params["weight_hh" + s], o).T
    bi = blocks(params["bias_ih" + s], o)
    bh = blocks(params["bias_hh" + s], o)
    if module == "GRU" and reset_after:
        bias = np.stack([bi, bh])
    elif module == "GRU":
        bias = bi  # reset-before GRU: Keras has one bias; bias_hh must be zero
        assert not bh.any()
    else:
        bias = bi + bh
    return kernel.astype("f4"), rk.astype("f4"), bias.astype("f4")


def random_params(module, inp, H, layers=1, bidi=False, seed=0, zero_bhh=False):
    rs = np.random.RandomState(seed)
    G = {"LSTM": 4, "GRU": 3, "RNN": 1}[module] * H
    p = {}
    for l in range(layers):
        for d in range(2 if bidi else 1):
            s = "_l%d%s" % (l, "_reverse" if d else "")
            i = inp if l == 0 else H * (2 if bidi else 1)
            p["weight_ih" + s] = rs.uniform(-0.6, 0.6, (G, i))
            p["weight_hh" + s] = rs.uniform(-0.6, 0.6, (G, H))
            p["bias_ih" + s] = rs.uniform(-0.3, 0.3, G)
            p["bias_hh" + s] = np.zeros(G) if zero_bhh else rs.uniform(-0.3, 0.3, G)
    # Keras files hold float32: round once so the reference sees the same numbers.
    return {k: v.astype("f4").astype("f8") for k, v in p.items()}


def save_expected(name, x, out, logits=None, **extra):
    d = {"x": x, "output": out}
    if logits is not None:
        d["logits"] = logits
    d.update(extra)
    np.savez(out_path(name), **d)


def out_path(name):
    return out("models", name)


def dense(rs, i, o):
    return rs.uniform(-0.5, 0.5, (i, o)).astype("f4").astype("f8"), rs.uniform(-0.2, 0.2, o).astype("f4").astype("f8")


def write_group_weights(f, layer, weights):
    """Keras 2 hdf5_format: a group per layer, attribute weight_names, datasets at those names."""
    g = f.create_group(layer)
    g.attrs["weight_names"] = np.array([n.encode("utf8") for n, _ in weights])
    for n, v in weights:
        g.create_dataset(n, data=v)


def gen_keras_tfjs():
    import h5py
    rs = np.random.RandomState(42)
    T, N = 5, 2

    # 1. Keras 2 save_weights: LSTM(6) + Dense(4), no model config.
    p = random_params("LSTM", 3, 6, seed=1, zero_bhh=True)  # Keras has one bias
    x = rs.randn(T, N, 3)
    k, r, b = keras_cell("LSTM", p, "_l0")
    dk, db = dense(rs, 6, 4)
    with h5py.File(out_path("keras2_lstm_dense.h5"), "w") as f:
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.13.1"
        f.attrs["layer_names"] = np.array([b"lstm", b"dense"])
        write_group_weights(f, "lstm", [("lstm/lstm_cell/kernel:0", k), ("lstm/lstm_cell/recurrent_kernel:0", r), ("lstm/lstm_cell/bias:0", b)])
        write_group_weights(f, "dense", [("dense/kernel:0", dk.astype("f4")), ("dense/bias:0", db.astype("f4"))])
    o = run_stack("LSTM", p, 1, False, x)
    save_expected("keras2_lstm_dense.expected.npz", x, o, o @ dk + db)

    # 2. Keras 2 model.save: Bidirectional GRU (reset_after=True, hard_sigmoid) with model_config.
    p = random_params("GRU", 3, 4, bidi=True, seed=2)
    x = rs.randn(T, N, 3)
    gru_cfg = {"name": "gru", "units": 4, "activation": "tanh", "recurrent_activation": "hard_sigmoid",
               "use_bias": True, "reset_after": True, "return_sequences": True, "go_backwards": False}
    config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, None, 3], "name": "input_1"}},
        {"class_name": "Bidirectional", "config": {"name": "bidirectional", "merge_mode": "concat",
                                                    "layer": {"class_name": "GRU", "config": gru_cfg}}}]}}
    with h5py.File(out_path("keras2_bigru_full.h5"), "w") as f:
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.13.1"
        f.attrs["model_config"] = json.dumps(config).encode("utf8")
        mw = f.create_group("model_weights")
        mw.attrs["layer_names"] = np.array([b"bidirectional"])
        ws = []
        for d, tag in [(0, "forward_gru"), (1, "backward_gru")]:
            k, r, b = keras_cell("GRU", p, "_l0" + ("_reverse" if d else ""))
            ws += [("bidirectional/%s/gru_cell/kernel:0" % tag, k), ("bidirectional/%s/gru_cell/recurrent_kernel:0" % tag, r),
                   ("bidirectional/%s/gru_cell/bias:0" % tag, b)]
        write_group_weights(mw, "bidirectional", ws)
    save_expected("keras2_bigru_full.expected.npz", x, run_stack("GRU", p, 1, True, x, ra="hard_sigmoid"))

    # 3. Keras 3 .weights.h5: two GRU layers with reset_after=False (one bias, reset before matmul).
    p = random_params("GRU", 3, 5, layers=2, seed=3, zero_bhh=True)
    x = rs.randn(T, N, 3)
    with h5py.File(out_path("keras3_gru_before.weights.h5"), "w") as f:
        f.create_group("vars")
        for l, name in enumerate(["gru", "gru_1"]):
            k, r, b = keras_cell("GRU", p, "_l%d" % l, reset_after=False)
            f.create_group("layers/%s/vars" % name)
            v = f.create_group("layers/%s/cell/vars" % name)
            v["0"], v["1"], v["2"] = k, r, b
    save_expected("keras3_gru_before.expected.npz", x, run_stack("GRU", p, 2, False, x, reset="before"))

    # 4. Keras 3 .keras archive: SimpleRNN(relu) + Dense, config.json names the layers.
    import io
    import zipfile
    p = random_params("RNN", 3, 4, seed=4, zero_bhh=True)
    x = rs.randn(T, N, 3)
    dk, db = dense(rs, 4, 3)
    cfg = {"module": "keras", "class_name": "Sequential", "config": {"name": "sequential", "layers": [
        {"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [None, None, 3], "name": "input_layer"}},
        {"module": "keras.layers", "class_name": "SimpleRNN", "config": {"name": "simple_rnn", "units": 4, "activation": "relu",
                                                                          "use_bias": True, "return_sequences": True, "go_backwards": False}},
        {"module": "keras.layers", "class_name": "Dense", "config": {"name": "dense", "units": 3, "activation": "linear"}}]}}
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        f.create_group("vars")
        k, r, b = keras_cell("RNN", p, "_l0")
        f.create_group("layers/simple_rnn/vars")
        v = f.create_group("layers/simple_rnn/cell/vars")
        v["0"], v["1"], v["2"] = k, r, b
        v = f.create_group("layers/dense/vars")
        v["0"], v["1"] = dk.astype("f4"), db.astype("f4")
    with zipfile.ZipFile(out_path("keras3_simplernn.keras"), "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.6.0", "date_saved": "2026-01-01@00:00:00"}))
        z.writestr("config.json", json.dumps(cfg))
        z.writestr("model.weights.h5", buf.getvalue())
    o = run_stack("RNN", p, 1, False, x, nl="relu")
    save_expected("keras3_simplernn.expected.npz", x, o, o @ dk + db)

    # 5. TensorFlow.js layers model: LSTM with tfjs' default hardSigmoid, saved by tfjs (model.json + shard).
    p = random_params("LSTM", 3, 4, seed=5, zero_bhh=True)
    x = rs.randn(T, N, 3)
    k, r, b = keras_cell("LSTM", p, "_l0")
    dk, db = dense(rs, 4, 2)
    names = [("lstm_LSTM1/kernel", k), ("lstm_LSTM1/recurrent_kernel", r), ("lstm_LSTM1/bias", b),
             ("dense_Dense1/kernel", dk.astype("f4")), ("dense_Dense1/bias", db.astype("f4"))]
    topo = {"class_name": "Sequential", "keras_version": "tfjs-layers 4.22.0", "backend": "tensor_flow.js", "config": {
        "name": "sequential_1", "layers": [
            {"class_name": "LSTM", "config": {"name": "lstm_LSTM1", "units": 4, "activation": "tanh", "recurrent_activation": "hard_sigmoid",
                                             "use_bias": True, "return_sequences": True, "go_backwards": False, "batch_input_shape": [None, None, 3]}},
            {"class_name": "Dense", "config": {"name": "dense_Dense1", "units": 2, "activation": "linear", "use_bias": True}}]}}
    model = {"format": "layers-model", "generatedBy": "TensorFlow.js tfjs-layers v4.22.0", "convertedBy": None,
             "modelTopology": topo,
             "weightsManifest": [{"paths": ["group1-shard1of1.bin"],
                                  "weights": [{"name": n, "shape": list(v.shape), "dtype": "float32"} for n, v in names]}]}
    save_json(model, "models", "tfjs_lstm", "model.json")
    with open(out("models", "tfjs_lstm", "group1-shard1of1.bin"), "wb") as f:
        for _, v in names:
            f.write(np.ascontiguousarray(v, dtype="<f4").tobytes())
    o = run_stack("LSTM", p, 1, False, x, ra="hard_sigmoid")
    save_expected("tfjs_lstm.expected.npz", x, o, o @ dk + db)


def gen_onnx():
    """torch.onnx.export of nn.LSTM / GRU / RNN: ONNX's own layout, written by its real exporter."""
    rs = np.random.RandomState(7)
    T, N = 5, 2
    for name, mod in [("onnx_lstm_bi2", torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)),
                      ("onnx_gru", torch.nn.GRU(3, 5)),
                      ("onnx_rnn_relu", torch.nn.RNN(3, 4, nonlinearity="relu"))]:
        torch.manual_seed(8)
        for prm in mod.parameters():
            torch.nn.init.uniform_(prm, -0.5, 0.5)
        x = rs.randn(T, N, 3)
        xt = torch.from_numpy(x).float()
        torch.onnx.export(mod, (xt,), out_path(name + ".onnx"), input_names=["x"], output_names=["y", "h"],
                          opset_version=14, do_constant_folding=True)
        ref = mod.double()(torch.from_numpy(x))[0].detach().numpy()
        save_expected(name + ".expected.npz", x, ref)


def gen_scratch():
    """From-scratch numpy layouts: per-gate W_*/U_*/b_*, fused W/U/b (Lua char-rnn order), min-char-rnn."""
    rs = np.random.RandomState(9)
    T, N = 5, 2
    # Per-gate LSTM, x @ W convention (W_i [in, H], U_i [H, H]) with Keras-style letter c.
    p = random_params("LSTM", 3, 4, seed=10, zero_bhh=True)
    x = rs.randn(T, N, 3)
    arrays = {}
    for k, g in enumerate("ifco"):
        sl = slice(k * 4, (k + 1) * 4)
        arrays["W_" + g] = p["weight_ih_l0"][sl].T
        arrays["U_" + g] = p["weight_hh_l0"][sl].T
        arrays["b_" + g] = p["bias_ih_l0"][sl]
    np.savez(out_path("scratch_lstm_pergate.npz"), **arrays)
    save_expected("scratch_lstm_pergate.expected.npz", x, run_stack("LSTM", p, 1, False, x))
    # Fused LSTM in Lua char-rnn gate order i,f,o,g, W [4H, in].
    p = random_params("LSTM", 3, 4, seed=11, zero_bhh=True)
    x = rs.randn(T, N, 3)
    order = [0, 1, 3, 2]  # foreign block k = canonical block order[k]
    np.savez(out_path("scratch_lstm_fused_ifog.npz"), W=blocks(p["weight_ih_l0"], order),
             U=blocks(p["weight_hh_l0"], order), b=blocks(p["bias_ih_l0"], order))
    save_expected("scratch_lstm_fused_ifog.expected.npz", x, run_stack("LSTM", p, 1, False, x))
    # min-char-rnn: Wxh [H, V], Whh, Why [V, H], bh [H, 1], by [V, 1].
    p = random_params("RNN", 6, 5, seed=12, zero_bhh=True)
    x = rs.randn(T, N, 6)
    Why = rs.uniform(-0.5, 0.5, (6, 5))
    by = rs.uniform(-0.2, 0.2, (6, 1))
    np.savez(out_path("minchar.npz"), Wxh=p["weight_ih_l0"], Whh=p["weight_hh_l0"], Why=Why,
             bh=p["bias_ih_l0"].reshape(-1, 1), by=by)
    o = run_stack("RNN", p, 1, False, x)
    save_expected("minchar.expected.npz", x, o, o @ Why.T + by[:, 0])


def main():
    which = sys.argv[1:] or ["pt", "models"]
    if "pt" in which:
        gen_pt_and_npy()
    if "models" in which:
        check_against_torch()
        gen_keras_tfjs()
        gen_onnx()
        gen_scratch()


if __name__ == "__main__":
    main()
