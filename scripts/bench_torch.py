#!/usr/bin/env python3
"""PyTorch side of `gatescope bench`: the same char-LM training step (one-hot input -> nn.LSTM/GRU/RNN ->
nn.Linear -> cross-entropy -> Adam) timed per step. Prints one JSON object on stdout.

Run with /usr/bin/python3 (torch 1.13) and, for realistic speed, the OpenBLAS build of BLAS:
  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 scripts/bench_torch.py \
      --configs '[{"module":"LSTM","hidden":256,"layers":1}]' --threads 2
"""
import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class CharModel(nn.Module):
    def __init__(self, module, vocab, hidden, layers):
        super().__init__()
        self.rnn = getattr(nn, module)(vocab, hidden, layers)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x, state=None):
        out, state = self.rnn(x, state)
        return self.head(out), state


def detach(state):
    if state is None:
        return None
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


def bench(cfg, args):
    torch.manual_seed(0)
    vocab, B, T = args.vocab, args.batch, args.seq
    model = CharModel(cfg["module"], vocab, cfg["hidden"], cfg["layers"])
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, vocab, (args.warmup + args.steps, T + 1, B), generator=g)
    state = None
    times = []
    for i in range(args.warmup + args.steps):
        x = F.one_hot(ids[i, :T], vocab).float()  # [T, B, V], time-major like nn.LSTM's default
        y = ids[i, 1:]
        t0 = time.perf_counter()
        logits, state = model(x, detach(state))
        loss = F.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        dt = time.perf_counter() - t0
        if i >= args.warmup:
            times.append(dt * 1000)
    return {"module": cfg["module"], "hidden": cfg["hidden"], "layers": cfg["layers"],
            "msPerStep": statistics.median(times), "samples": times}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--configs", required=True, help="JSON list of {module, hidden, layers}")
    p.add_argument("--vocab", type=int, default=65)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--steps", type=int, default=7)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    results = [bench(c, args) for c in json.loads(args.configs)]
    json.dump({"torch": torch.__version__, "threads": torch.get_num_threads(),
               "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
