#!/usr/bin/env python3
"""PyTorch side of `gatescope bench`: the same training steps timed per step. Prints one JSON object on stdout.
  --configs (char LM): one-hot input -> nn.LSTM/GRU/RNN -> nn.Linear -> cross-entropy -> Adam, stateful TBPTT
  --workload word-lm:  nn.Embedding -> nn.LSTM -> nn.Linear over the vocabulary, stateful TBPTT, Adam
  --workload classify: nn.Embedding(padding_idx=0) -> pack_padded_sequence(enforce_sorted=False) ->
                       bidirectional nn.LSTM -> cat(h_n[-2], h_n[-1]) -> nn.Linear -> cross-entropy, Adam
Everything from the embedding (or the model call) to opt.step() is timed; making the batch is not.

Run with /usr/bin/python3 (torch 1.13) and, for realistic speed, the OpenBLAS build of BLAS:
  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 scripts/bench_torch.py \
      --configs '[{"module":"LSTM","hidden":256,"layers":1}]' --threads 2
  ... scripts/bench_torch.py --workload classify --vocab 20000 --embedding 100 --hidden 128 --layers 2 --batch 64
"""
import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence


class CharModel(nn.Module):
    def __init__(self, module, vocab, hidden, layers):
        super().__init__()
        self.rnn = getattr(nn, module)(vocab, hidden, layers)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x, state=None):
        out, state = self.rnn(x, state)
        return self.head(out), state


class WordModel(nn.Module):
    def __init__(self, vocab, embedding, hidden):
        super().__init__()
        self.embedding = nn.Embedding(vocab, embedding)
        self.rnn = nn.LSTM(embedding, hidden)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x, state=None):
        out, state = self.rnn(self.embedding(x), state)
        return self.head(out), state


class Classifier(nn.Module):
    def __init__(self, vocab, embedding, hidden, layers, classes):
        super().__init__()
        self.embedding = nn.Embedding(vocab, embedding, padding_idx=0)
        self.rnn = nn.LSTM(embedding, hidden, num_layers=layers, bidirectional=True, batch_first=True)
        self.head = nn.Linear(2 * hidden, classes)

    def forward(self, tokens, lengths):
        packed = pack_padded_sequence(self.embedding(tokens), lengths, batch_first=True, enforce_sorted=False)
        _, (h_n, _) = self.rnn(packed)
        return self.head(torch.cat([h_n[-2], h_n[-1]], dim=1))


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


def bench_word(args):
    torch.manual_seed(0)
    vocab, B, T = args.vocab, args.batch, args.seq
    model = WordModel(vocab, args.embedding, args.hidden)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, vocab, (args.warmup + args.steps, T + 1, B), generator=g)
    state = None
    times = []
    for i in range(args.warmup + args.steps):
        x, y = ids[i, :T], ids[i, 1:]  # [T, B] time-major
        t0 = time.perf_counter()
        logits, state = model(x, detach(state))
        loss = F.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        dt = time.perf_counter() - t0
        if i >= args.warmup:
            times.append(dt * 1000)
    return {"workload": "word-lm", "msPerStep": statistics.median(times), "samples": times}


def bench_classify(args):
    torch.manual_seed(0)
    B, T = args.batch, args.max_length
    model = Classifier(args.vocab, args.embedding, args.hidden, args.layers, args.classes)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    g = torch.Generator().manual_seed(1)
    times = []
    for i in range(args.warmup + args.steps):
        lengths = torch.randint(args.min_length, args.max_length + 1, (B,), generator=g)
        tokens = torch.randint(1, args.vocab, (B, T), generator=g)
        tokens[torch.arange(T)[None, :] >= lengths[:, None]] = 0  # padding_idx after each sequence
        labels = torch.randint(0, args.classes, (B,), generator=g)
        t0 = time.perf_counter()
        loss = F.cross_entropy(model(tokens, lengths), labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        dt = time.perf_counter() - t0
        if i >= args.warmup:
            times.append(dt * 1000)
    return {"workload": "classify", "msPerStep": statistics.median(times), "samples": times}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--configs", help="char LM: JSON list of {module, hidden, layers}")
    p.add_argument("--workload", choices=["word-lm", "classify"], help="instead of --configs")
    p.add_argument("--embedding", type=int, default=128)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--classes", type=int, default=4)
    p.add_argument("--min-length", type=int, default=20)
    p.add_argument("--max-length", type=int, default=200)
    p.add_argument("--vocab", type=int, default=65)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--steps", type=int, default=7)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.workload == "word-lm":
        results = [bench_word(args)]
    elif args.workload == "classify":
        results = [bench_classify(args)]
    elif args.configs:
        results = [bench(c, args) for c in json.loads(args.configs)]
    else:
        p.error("give --configs or --workload")
    json.dump({"torch": torch.__version__, "threads": torch.get_num_threads(),
               "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
