"""Writes a small run directory for test/unit/python-package.test.ts, which reads it with gatescope's core.

usage: make_interop_run.py RUN_DIR
Watches nn.LSTM (2 layers, bidirectional, batch-first), nn.GRU (float32), nn.RNN (relu, no bias), a
from-scratch MyLSTM mapped correctly ("mine", same weights as "ref") and one mapped with gates i and f
swapped ("swapped"), probes them with one float batch and takes the snapshot "a".
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

import gatescope  # noqa: E402
from test_mapping import MyLSTM  # noqa: E402

torch.manual_seed(0)
mine = MyLSTM(3, 4)
swapped = {k: (v[0], {"i": "f", "f": "i"}.get(v[1], v[1])) for k, v in mine.mapping().items()}
with gatescope.Run(sys.argv[1]) as run:
    run.watch(nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True).double(), name="lstm")
    run.watch(nn.GRU(3, 4), name="gru32")
    run.watch(nn.RNN(3, 4, nonlinearity="relu", bias=False).double(), name="rnn")
    run.watch(mine, name="mine", mapping=mine.mapping())
    run.watch(mine.to_torch(), name="ref")
    run.watch(mine, name="swapped", mapping=swapped)
    run.probe(torch.randn(5, 2, 3, dtype=torch.float64), batch_first=False)
    run.log(1, loss=0.5)
    run.snapshot("a")
