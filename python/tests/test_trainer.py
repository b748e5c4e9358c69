"""gatescope.trainer (the torch engine of `gatescope train --engine torch`) on its own: the message framing, the
row split, a training step against plain PyTorch, optimizer state in gatescope's names, and the carried state.
The cross-engine agreement with gatescope's reference is test/unit/torch-engine.test.ts."""
import socket
import unittest

import torch
import torch.nn.functional as F

from _util import max_err

from gatescope import trainer
from gatescope._model import GatescopeModel

LM = {"vocab_size": 5, "embedding": None, "readout": "per_step", "head_sequential": False, "dtype": "float64",
      "rnn": {"module": "LSTM", "input_size": 5, "hidden_size": 3, "num_layers": 2, "bidirectional": False, "bias": True,
              "nonlinearity": None, "dropout": 0.0, "recurrent_activation": "sigmoid", "gru_reset": "after"},
      "head": [{"type": "Linear", "in_features": 3, "out_features": 5, "bias": True}]}

CLS = {"vocab_size": 6, "embedding": {"num_embeddings": 6, "embedding_dim": 3, "padding_idx": 1}, "readout": "mean",
       "head_sequential": True, "dtype": "float64",
       "rnn": {"module": "GRU", "input_size": 3, "hidden_size": 2, "num_layers": 1, "bidirectional": True, "bias": True,
               "nonlinearity": None, "dropout": 0.0},
       "head": [{"type": "Linear", "in_features": 4, "out_features": 4, "bias": True}, {"type": "Tanh"},
                {"type": "Linear", "in_features": 4, "out_features": 3, "bias": True}]}


def initial(m, seed=0):
    torch.manual_seed(seed)
    return {k: v.detach().clone() for k, v in GatescopeModel(m).named_parameters()}


def step_header(B, T, optimizer=None, **kw):
    return {"op": "step", "batchSize": B, "seqLen": T, "optimizer": optimizer or {"kind": "adam", "lr": 0.01},
            "clip": {"maxNorm": 1.0}, "stateful": True, **kw}


def lm_batch(B, T, seed):
    g = torch.Generator().manual_seed(seed)
    return {"inputs": torch.randint(0, 5, (B * T,), generator=g, dtype=torch.int32),
            "targets": torch.randint(0, 5, (B * T,), generator=g, dtype=torch.int32)}


class Framing(unittest.TestCase):
    def test_round_trip(self):
        a, b = socket.socketpair()
        a.settimeout(20)
        b.settimeout(20)  # a hang fails the test instead of the suite
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        left, right = trainer.Channel(a), trainer.Channel(b)
        tensors = {"x": torch.arange(5, dtype=torch.float64).reshape(5, 1), "ids": torch.tensor([3, -1, 7], dtype=torch.int32),
                   "none": torch.zeros(0, 4), "big": torch.arange(3, dtype=torch.int64), "f": torch.tensor(1.5)}
        left.send({"op": "x", "n": 1}, tensors)
        header, got = right.recv()
        self.assertEqual(header, {"op": "x", "n": 1})
        self.assertEqual(list(got), list(tensors))
        for k, t in tensors.items():
            self.assertEqual((got[k].dtype, tuple(got[k].shape)), (t.dtype, tuple(t.shape)), k)
            self.assertTrue(torch.equal(got[k], t), k)
        a.shutdown(socket.SHUT_RDWR)  # close() alone keeps the fd open while the channel's reader holds it
        self.assertIsNone(right.recv(), "a closed connection reads as None")

    def test_rows_split_every_row_once(self):
        for B in range(0, 9):
            for world in range(1, 5):
                ranges = [trainer.row_range(B, r, world) for r in range(world)]
                self.assertEqual(sum(hi - lo for lo, hi in ranges), B)
                self.assertEqual([lo for lo, _ in ranges[1:]], [hi for _, hi in ranges[:-1]])


class Steps(unittest.TestCase):
    def test_step_is_plain_pytorch(self):
        params = initial(LM, 1)
        engine = trainer.Engine({"model": LM, "seed": 0}, params, torch.device("cpu"))
        model = GatescopeModel(LM)
        model.load_state_dict(params)
        opt = torch.optim.Adam(model.parameters(), lr=0.01)
        state = None
        for s in range(4):
            batch = lm_batch(3, 4, s)
            reply, _ = engine.handle("step", step_header(3, 4), batch)
            opt.zero_grad()
            out, st = model(batch["inputs"].reshape(3, 4).long(), None, state)
            loss = F.cross_entropy(out.reshape(-1, 5), batch["targets"].long())
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            state = tuple(x.detach() for x in st)
            self.assertAlmostEqual(reply["loss"], loss.item(), places=13)
            self.assertAlmostEqual(reply["gradNorm"], norm.item(), places=13)
        got = engine.handle("get_params", {}, {})[1]
        for k, p in model.named_parameters():
            self.assertLess(max_err(got[k], p), 1e-14, k)
        carried = engine.handle("get_carried", {}, {})[1]
        self.assertLess(max_err(carried["h"], state[0]), 1e-15)
        self.assertLess(max_err(carried["c"], state[1]), 1e-15)

    def test_optimizer_and_carried_state_resume_exactly(self):
        for opt in ({"kind": "adam", "lr": 0.01}, {"kind": "sgd", "lr": 0.1, "momentum": 0.9}, {"kind": "sgd", "lr": 0.1},
                    {"kind": "rmsprop", "lr": 0.01, "centered": True, "momentum": 0.3},
                    {"kind": "adagrad", "lr": 0.1, "initialAccumulatorValue": 0.2}):
            with self.subTest(opt=opt["kind"]):
                whole = trainer.Engine({"model": LM}, initial(LM), torch.device("cpu"))
                first = trainer.Engine({"model": LM}, initial(LM), torch.device("cpu"))
                for s in range(3):
                    whole.handle("step", step_header(2, 3, opt), lm_batch(2, 3, s))
                    first.handle("step", step_header(2, 3, opt), lm_batch(2, 3, s))
                state = first.handle("get_optimizer", {}, {})[1]
                self.assertEqual(state["step"].item(), 3.0)
                self.assertEqual(state["step"].dtype, torch.float64)
                names = {k.rsplit(".", 1)[1] for k in state if k != "step"}
                expected = {"adam": {"exp_avg", "exp_avg_sq"}, "rmsprop": {"square_avg", "grad_avg", "momentum_buffer"},
                            "adagrad": {"sum"}, "sgd": {"momentum_buffer"} if opt.get("momentum") else set()}[opt["kind"]]
                self.assertEqual(names, expected)
                resumed = trainer.Engine({"model": LM}, first.handle("get_params", {}, {})[1], torch.device("cpu"))
                resumed.handle("set_optimizer", {}, state)  # before the optimizer exists, as a resume does
                self.assertEqual(set(resumed.handle("get_optimizer", {}, {})[1]), set(state))
                resumed.handle("set_carried", {}, first.handle("get_carried", {}, {})[1])
                for s in range(3, 5):
                    a = whole.handle("step", step_header(2, 3, opt), lm_batch(2, 3, s))[0]
                    b = resumed.handle("step", step_header(2, 3, opt), lm_batch(2, 3, s))[0]
                    self.assertEqual(a, b)

    def test_classifier_with_lengths_and_evaluation(self):
        engine = trainer.Engine({"model": CLS}, initial(CLS, 2), torch.device("cpu"))
        model = GatescopeModel(CLS)
        model.load_state_dict(initial(CLS, 2))
        tokens = torch.tensor([[2, 3, 4, 1], [5, 2, 1, 1], [3, 3, 3, 3]], dtype=torch.int32)
        lengths = torch.tensor([3, 2, 4], dtype=torch.int32)
        labels = torch.tensor([0, 2, 1], dtype=torch.int32)
        batch = {"inputs": tokens.reshape(-1), "targets": labels, "lengths": lengths}
        scores, _ = model(tokens.long(), lengths.long())
        expect = F.cross_entropy(scores, labels.long()).item()
        ev, _ = engine.handle("evaluate", {"op": "evaluate", "batchSize": 3, "seqLen": 4, "stateful": False}, batch)
        self.assertAlmostEqual(ev["loss"], expect, places=13)
        self.assertEqual(ev["accuracy"], (scores.argmax(1) == labels).double().mean().item())
        reply, _ = engine.handle("step", step_header(3, 4, {"kind": "sgd", "lr": 0.1}, stateful=False), batch)
        self.assertAlmostEqual(reply["loss"], expect, places=13)
        self.assertEqual(engine.handle("get_carried", {}, {})[1], {})
        grads = engine.params[0].grad
        self.assertEqual(grads[1].abs().sum().item(), 0.0, "padding_idx's row gets no gradient")

    def test_models_pytorch_cannot_compute_are_refused(self):
        keras = {**LM, "rnn": {**LM["rnn"], "recurrent_activation": "hard_sigmoid"}}
        with self.assertRaisesRegex(ValueError, "hard_sigmoid"):
            GatescopeModel(keras)
        gru = {**CLS, "rnn": {**CLS["rnn"], "gru_reset": "before"}}
        with self.assertRaisesRegex(ValueError, "reset gate"):
            GatescopeModel(gru)


if __name__ == "__main__":
    unittest.main()
