"""The run directory: events.jsonl records, snapshot and probe files, atomic writes, sessions, probes."""
import json
import math
import os
import struct
import threading
import time
import unittest
from unittest import mock

import torch
import torch.nn as nn

from _util import RunDirCase, read_events

import gatescope
from gatescope import _safetensors


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def lstm(seed=0, **kw):
    torch.manual_seed(seed)
    kw.setdefault("input_size", 4)
    kw.setdefault("hidden_size", 3)
    return nn.LSTM(**kw)


class EventsFile(RunDirCase):
    def test_records_and_line_format(self):
        d = self.run_dir()
        m = lstm()
        with gatescope.Run(d, every=2, config={"lr": 0.1, "sizes": (1, 2), "bad": float("inf")}) as run:
            run.watch(m, name="lstm")
            run.log(1, loss=torch.tensor(2.5), acc=1, flag=True, big=float("nan"))
            # appended and flushed: another reader sees the line before close()
            with open(os.path.join(d, "events.jsonl"), encoding="utf-8") as f:
                self.assertEqual([json.loads(x)["kind"] for x in f.read().splitlines()], ["start", "scalar"])
            run.log(2, loss=1.5)
            run.log(3)  # nothing to record, no snapshot
            run.epoch_end()
            run.snapshot("final")
        with open(os.path.join(d, "events.jsonl"), "rb") as f:
            raw = f.read()
        self.assertTrue(raw.endswith(b"\n"))
        self.assertNotIn(b"NaN", raw)
        self.assertNotIn(b"Infinity", raw)
        lines = raw.decode("utf-8").split("\n")[:-1]
        events = [json.loads(x) for x in lines]
        for line, e in zip(lines, events):
            self.assertIsInstance(e, dict)
            self.assertEqual(line, json.dumps(e, separators=(",", ":")), "one compact object per line")
        self.assertEqual([e["kind"] for e in events], ["start", "scalar", "scalar", "snapshot", "snapshot", "snapshot", "end"])
        start = events[0]
        self.assertEqual(start["version"], 1)
        self.assertEqual(start["rank"], 0)
        self.assertEqual(start["world_size"], 1)
        self.assertEqual(start["every"], 2)
        self.assertEqual(start["config"], {"lr": 0.1, "sizes": [1, 2], "bad": None})
        self.assertEqual(start["model"], {"lstm": {
            "module": "LSTM", "input_size": 4, "hidden_size": 3, "num_layers": 1, "bidirectional": False,
            "bias": True, "batch_first": False, "nonlinearity": None, "dtype": "float32"}})
        self.assertEqual(start["modules"]["lstm"], {"class": "torch.nn.modules.rnn.LSTM", "layout": "pytorch", "device": "cpu"})
        s1 = events[1]
        self.assertEqual(list(s1)[:2], ["kind", "step"])
        self.assertEqual({k: s1[k] for k in s1 if k != "time"}, {"kind": "scalar", "step": 1, "loss": 2.5, "acc": 1, "flag": 1, "big": None})
        self.assertIsInstance(s1["time"], float)
        self.assertEqual(events[3], {"kind": "snapshot", "tag": "step2", "step": 2, "weights": "snapshots/step2.safetensors",
                                     "probe": None, "time": events[3]["time"]})
        self.assertEqual((events[4]["tag"], events[4]["epoch"], events[4]["step"]), ("epoch1", 1, 3))
        self.assertEqual(events[5]["tag"], "final")
        self.assertEqual({k: v for k, v in events[6].items() if k != "time"}, {"kind": "end", "step": 3, "status": "ok"})
        self.assertEqual(sorted(os.listdir(os.path.join(d, "snapshots"))), ["epoch1.safetensors", "final.safetensors", "step2.safetensors"])
        self.assertEqual(os.listdir(os.path.join(d, "probes")), [])

    def test_bad_calls_are_refused(self):
        run = gatescope.Run(self.run_dir())
        with self.assertRaisesRegex(ValueError, "reserved"):
            run.log(1, time=3.0)
        with self.assertRaisesRegex(ValueError, "single number"):
            run.log(1, loss=torch.ones(2))
        with self.assertRaises(TypeError):
            run.log(1.5, loss=1.0)
        with self.assertRaisesRegex(RuntimeError, "nothing is watched"):
            run.snapshot("a")
        run.watch(lstm())
        with self.assertRaisesRegex(ValueError, "tag"):
            run.snapshot("../x")
        with self.assertRaisesRegex(ValueError, "every"):
            gatescope.Run(self.run_dir("b"), every=0)
        run.close()
        with self.assertRaisesRegex(RuntimeError, "closed"):
            run.log(2, loss=1.0)
        run.close()  # twice is fine

    def test_context_manager_records_how_the_run_ended(self):
        d = self.run_dir()
        with self.assertRaises(ZeroDivisionError):
            with gatescope.Run(d) as run:
                run.log(1, loss=1.0)
                1 / 0
        with self.assertRaises(KeyboardInterrupt):
            with gatescope.Run(d) as run:
                run.log(1, loss=1.0)
                raise KeyboardInterrupt
        ends = [e for e in read_events(d) if e["kind"] == "end"]
        self.assertEqual([(e["status"], e.get("error")) for e in ends],
                         [("error", "ZeroDivisionError: division by zero"), ("interrupted", None)])

    def test_reopening_appends_a_session_and_replaces_the_open_one(self):
        d = self.run_dir()
        first = gatescope.Run(d)
        first.log(1, loss=3.0)
        second = gatescope.Run(d)  # the same notebook cell run again, first never closed
        second.watch(lstm(), name="lstm")
        second.log(1, loss=2.0)
        second.close()
        third = gatescope.Run(d)
        third.close()
        kinds = [(e["kind"], e.get("status")) for e in read_events(d)]
        self.assertEqual(kinds, [("start", None), ("scalar", None), ("end", "superseded"),
                                 ("start", None), ("scalar", None), ("end", "ok"), ("start", None), ("end", "ok")])
        with self.assertRaises(RuntimeError):
            first.log(2, loss=1.0)

    def test_late_watch_is_announced(self):
        d = self.run_dir()
        with gatescope.Run(d) as run:
            run.log(1, loss=1.0)
            run.watch(lstm(), name="late")
        ev = read_events(d)
        self.assertEqual(ev[0]["model"], {})
        self.assertEqual(ev[2]["kind"], "watch")
        self.assertEqual(ev[2]["name"], "late")
        self.assertEqual(ev[2]["model"]["late"]["module"], "LSTM")

    def test_other_ranks_write_nothing(self):
        d = self.run_dir()
        with gatescope.Run(d, every=1, rank=1) as run:
            self.assertFalse(run.is_writer)
            run.watch(lstm(), name="lstm")
            run.probe(torch.randn(5, 4))
            run.log(1, loss=1.0)
            self.assertIsNone(run.snapshot("a"))
            self.assertIsNone(run.epoch_end())
        self.assertFalse(os.path.exists(d))


class Files(RunDirCase):
    def test_safetensors_bytes(self):
        d = self.run_dir()
        m = lstm(num_layers=2, bidirectional=True).double()
        with gatescope.Run(d) as run:
            run.watch(m, name="enc.lstm")
            run.log(7, loss=1.0)
            run.snapshot()
        path = os.path.join(d, "snapshots", "step7.safetensors")
        with open(path, "rb") as f:
            data = f.read()
        (n,) = struct.unpack("<Q", data[:8])
        self.assertEqual(n % 8, 0)
        header = json.loads(data[8:8 + n])
        meta = header.pop("__metadata__")
        self.assertTrue(all(isinstance(v, str) for v in meta.values()))
        self.assertEqual((meta["tag"], meta["step"], meta["format"]), ("step7", "7", "pt"))
        self.assertEqual(json.loads(meta["models"])["enc.lstm"]["num_layers"], 2)
        names = list(header)
        self.assertEqual(names, [f"enc.lstm.{p}" for p in m._flat_weights_names], "state_dict order")
        end = 0
        for name in names:
            info = header[name]
            self.assertEqual(info["dtype"], "F64")
            self.assertEqual(info["data_offsets"][0], end, "tensors are packed back to back")
            end = info["data_offsets"][1]
            t = getattr(m, name[len("enc.lstm."):])
            self.assertEqual(info["shape"], list(t.shape))
            raw = data[8 + n + info["data_offsets"][0]:8 + n + end]
            self.assertEqual(raw, struct.pack(f"<{t.numel()}d", *t.detach().reshape(-1).tolist()))
        self.assertEqual(8 + n + end, len(data))
        self.assertEqual(oct(os.stat(path).st_mode & 0o777), oct(0o666 & ~_safetensors._UMASK))

    def test_failed_write_leaves_no_partial_file(self):
        d = self.run_dir()
        run = gatescope.Run(d)
        m = lstm()
        run.watch(m, name="lstm")
        run.snapshot("a")
        before = read_bytes(os.path.join(d, "snapshots", "a.safetensors"))
        with torch.no_grad():
            m.weight_hh_l0.add_(1.0)
        with mock.patch.object(_safetensors.os, "fsync", side_effect=OSError("disk full")):
            with self.assertRaisesRegex(OSError, "disk full"):
                run.snapshot("a")
            with self.assertRaisesRegex(OSError, "disk full"):
                run.snapshot("b")
        self.assertEqual(sorted(os.listdir(os.path.join(d, "snapshots"))), ["a.safetensors"], "no temporary file left behind")
        self.assertEqual(read_bytes(os.path.join(d, "snapshots", "a.safetensors")), before, "the old snapshot is intact")
        run.close()
        self.assertEqual([e["kind"] for e in read_events(d)], ["start", "snapshot", "end"], "no record for a file not written")

    def test_readers_never_see_a_partial_file(self):
        d = self.run_dir()
        m = lstm(input_size=200, hidden_size=200)  # a ~1.3 MB snapshot
        run = gatescope.Run(d)
        run.watch(m, name="lstm")
        run.probe(torch.randn(20, 2, 200))
        stop = threading.Event()
        errors = []

        def writer():
            k = 0
            while not stop.is_set():
                with torch.no_grad():
                    m.weight_hh_l0.fill_(k)
                run.snapshot("live")
                k += 1

        seen = 0
        t = threading.Thread(target=writer)
        t.start()
        try:
            deadline = time.monotonic() + 1.5
            while time.monotonic() < deadline:
                for sub in ("snapshots", "probes"):
                    for name in os.listdir(os.path.join(d, sub)):
                        if name.startswith("."):
                            self.assertTrue(name.endswith(".tmp"), name)
                            continue
                        try:
                            tensors, _ = gatescope.load_safetensors(os.path.join(d, sub, name))
                        except FileNotFoundError:
                            continue
                        except Exception as e:  # a partial file
                            errors.append(f"{sub}/{name}: {e}")
                            continue
                        if sub == "snapshots":
                            w = tensors["lstm.weight_hh_l0"]
                            if not bool((w == w.reshape(-1)[0]).all()):
                                errors.append("a snapshot mixing two writes")
                        seen += 1
        finally:
            stop.set()
            t.join()
            run.close()
        self.assertEqual(errors, [])
        self.assertGreater(seen, 5)


class Probes(RunDirCase):
    def test_text_with_a_character_vocabulary_and_an_embedding(self):
        d = self.run_dir()
        vocab = sorted(set("hello world"))
        torch.manual_seed(0)
        emb = nn.Embedding(len(vocab), 4)
        m = nn.GRU(4, 3, batch_first=True)
        with gatescope.Run(d) as run:
            run.watch(m, name="gru")
            run.probe(["hello", "world"], vocab=vocab, embedding=emb)
            run.snapshot("a")
            with torch.no_grad():
                emb.weight.mul_(2)  # the embedding's weights of the moment are used
            run.snapshot("b")
        a, meta = gatescope.load_safetensors(os.path.join(d, "probes", "a.safetensors"))
        b, _ = gatescope.load_safetensors(os.path.join(d, "probes", "b.safetensors"))
        ids = [[vocab.index(c) for c in w] for w in ("hello", "world")]
        self.assertEqual(a["gru.probe_tokens"].dtype, torch.int64)
        self.assertEqual(a["gru.probe_tokens"].tolist(), torch.tensor(ids).t().tolist(), "[T, N], time-major")
        self.assertEqual(list(a["gru.trace_l0_h"].shape), [5, 2, 3])
        with torch.no_grad():
            x = emb.weight.detach()[torch.tensor(ids)] / 2
            out, _ = m(x)
        self.assertTrue(torch.equal(a["gru.probe_x"], x), "probe_x in the module's (batch-first) layout")
        self.assertLessEqual((a["gru.trace_l0_h"] - out.transpose(0, 1)).abs().max().item(), 1e-6)
        self.assertFalse(torch.equal(a["gru.trace_l0_h"], b["gru.trace_l0_h"]))
        self.assertEqual(json.loads(meta["probe_text"]), [list("hello"), list("world")])
        probe = [e for e in read_events(d) if e["kind"] == "probe"][0]
        self.assertEqual(probe, {"kind": "probe", "names": None, "shape": [5, 2], "input": "tokens", "embedding": True,
                                 "text": ["hello", "world"]})

    def test_one_hot_tokens_and_word_vocabularies(self):
        d = self.run_dir()
        vocab = {"<unk>": 0, "the": 1, "cat": 2, "sat": 3}
        m = nn.LSTM(4, 3).double()
        with gatescope.Run(d) as run:
            run.watch(m, name="lstm")
            run.probe("the cat sat on the mat", vocab=vocab)
            run.snapshot("a")
        a, meta = gatescope.load_safetensors(os.path.join(d, "probes", "a.safetensors"))
        self.assertEqual(a["lstm.probe_tokens"][:, 0].tolist(), [1, 2, 3, 0, 1, 0])
        self.assertNotIn("lstm.probe_x", a, "one-hot inputs follow from the tokens")
        with torch.no_grad():
            out, _ = m(torch.nn.functional.one_hot(a["lstm.probe_tokens"], 4).double())
        self.assertLessEqual((a["lstm.trace_l0_h"] - out).abs().max().item(), 1e-12)
        self.assertEqual(json.loads(meta["probe_text"]), [["the", "cat", "sat", "on", "the", "mat"]])

    def test_token_tensors_follow_batch_first(self):
        m = nn.RNN(6, 2, batch_first=True)
        run = gatescope.Run(self.run_dir())
        run.watch(m, name="rnn")
        run.probe(torch.tensor([[1, 2, 3], [4, 5, 0]]))  # [N=2, T=3] as the module is batch-first
        self.assertEqual(run._probe.shape, [3, 2])
        run.probe([1, 2, 3, 4])  # a plain list: one sequence
        self.assertEqual(run._probe.shape, [4, 1])
        run.close()

    def test_probes_that_cannot_feed_a_module_are_refused_early(self):
        run = gatescope.Run(self.run_dir())
        with self.assertRaisesRegex(RuntimeError, "watch"):
            run.probe(torch.randn(3, 4))
        run.watch(nn.LSTM(4, 3), name="a")
        with self.assertRaisesRegex(ValueError, "input_size 4"):
            run.probe(torch.randn(3, 5))
        with self.assertRaisesRegex(ValueError, "does not fit the one-hot"):
            run.probe(torch.tensor([1, 7]))
        with self.assertRaisesRegex(ValueError, "not in the vocabulary"):
            run.probe("abz", vocab="abc")
        with self.assertRaisesRegex(ValueError, "vocab="):
            run.probe("abc")
        run.probe(torch.randn(3, 4))
        with self.assertRaisesRegex(ValueError, "names="):
            run.watch(nn.LSTM(5, 3), name="b")
        run.probe(torch.randn(3, 4), names=["a"])
        run.watch(nn.LSTM(5, 3), name="b")  # fine now: the probe feeds only a
        run.close()


@unittest.skipUnless(torch.cuda.is_available(), "CUDA is not available")
class Cuda(RunDirCase):
    def test_snapshots_and_probes_of_a_cuda_module(self):
        d = self.run_dir()
        torch.manual_seed(0)
        m = nn.LSTM(4, 8, num_layers=2, bidirectional=True, batch_first=True).cuda()
        emb = nn.Embedding(10, 4).cuda()
        with gatescope.Run(d) as run:
            run.watch(m, name="lstm")
            run.probe(torch.tensor([[1, 2, 3, 4], [5, 6, 7, 8]]), embedding=emb)
            run.log(1, loss=torch.tensor(0.5, device="cuda"))
            run.snapshot("a")
        w, _ = gatescope.load_safetensors(os.path.join(d, "snapshots", "a.safetensors"))
        p, _ = gatescope.load_safetensors(os.path.join(d, "probes", "a.safetensors"))
        for n in m._flat_weights_names:
            self.assertTrue(torch.equal(w["lstm." + n], getattr(m, n).detach().cpu()))
        with torch.no_grad():
            out, (h_n, _) = m(emb(torch.tensor([[1, 2, 3, 4], [5, 6, 7, 8]], device="cuda")))
        self.assertLessEqual((p["lstm.trace_l1_h"] - out[..., :8].transpose(0, 1).cpu()).abs().max().item(), 1e-5)
        self.assertEqual(read_events(d)[0]["modules"]["lstm"]["device"], "cuda:0")
        self.assertTrue(math.isclose(read_events(d)[1]["loss"], 0.5))


if __name__ == "__main__":
    unittest.main()
