#!/usr/bin/python3
"""State_dicts and their own ONNX exports, for `gatescope diff`'s equivalence tests.

Run with Debian's Python (python3-torch; torch.onnx needs no onnx package):
    /usr/bin/python3 scripts/gen_diff_fixtures.py
Writes test/fixtures/diff/: for each model NAME.pt (torch.save(model.state_dict())) and NAME.onnx
(torch.onnx.export of the same module). Seeded, so reruns give the same numbers.
  lm_lstm   Embedding(12, 3) -> LSTM(3, 4, num_layers=2) -> Linear(4, 12), word_language_model's names
            (encoder / rnn / decoder); the ONNX import reads the recurrent nodes only
  gru_bi    GRU(3, 5, bidirectional=True): ONNX keeps Wb and Rb apart (linear_before_reset=1)
  rnn_relu  RNN(3, 4, nonlinearity="relu")
"""
import os
import warnings

import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "diff")


class LM(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = torch.nn.Embedding(12, 3)
        self.rnn = torch.nn.LSTM(3, 4, num_layers=2)
        self.decoder = torch.nn.Linear(4, 12)

    def forward(self, x):
        out, _ = self.rnn(self.encoder(x))
        return self.decoder(out)


def save(name, module, example):
    torch.save(module.state_dict(), os.path.join(ROOT, name + ".pt"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (example,), os.path.join(ROOT, name + ".onnx"), opset_version=14, do_constant_folding=True)


def main():
    os.makedirs(ROOT, exist_ok=True)
    torch.manual_seed(12)
    save("lm_lstm", LM(), torch.zeros(5, 2, dtype=torch.long))
    save("gru_bi", torch.nn.GRU(3, 5, bidirectional=True), torch.zeros(5, 2, 3))
    save("rnn_relu", torch.nn.RNN(3, 4, nonlinearity="relu"), torch.zeros(5, 2, 3))


if __name__ == "__main__":
    main()
