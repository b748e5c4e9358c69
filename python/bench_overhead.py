"""How much gatescope.Run slows a training loop: a 2x512 LSTM language model on CPU, a snapshot every 100 steps.

    /usr/bin/python3 python/bench_overhead.py            # 200 training steps: 35-90 s on one CPU core
    /usr/bin/python3 python/bench_overhead.py --quick    # a smoke run of a few seconds

Model: Embedding(65, 64) -> LSTM(64, 512, num_layers=2, batch_first=True) -> Linear(512, 65), Adam,
batches of 8 x 32 characters. The recorded loop calls ``run.log(step, loss=loss.item())`` every step
with ``Run(every=100)``, a probe of 4 x 64 characters through the model's embedding, so every 100th step
writes the LSTM's 3.3 M weights (13 MB) and the probe's 12 trace tensors. The baseline loop is the same
loop without gatescope (it still calls ``loss.item()``). 100 steps of each, in chunks of 10 steps in
the order A B B A A B ..., so drift in a shared machine's speed hits both alike; the recorded loop
counts its own steps and so takes one snapshot in its 100.

Two numbers come out:
- in-call overhead: the time spent inside gatescope's calls divided by the rest of the recorded loop's
  time. This is the cost gatescope adds and is stable from run to run.
- A/B overhead: the recorded loop's wall time over the baseline's; noisier (it includes the machine's
  own jitter), reported as a check.
Also printed: the cost of one snapshot split into weights, probe recomputation and probe file.
"""
import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

import gatescope  # noqa: E402
from gatescope import _safetensors  # noqa: E402
from gatescope._trace import recompute  # noqa: E402

VOCAB = [chr(c) for c in range(32, 97)]  # 65 characters


class CharLstm(nn.Module):
    def __init__(self, hidden, layers):
        super().__init__()
        self.embedding = nn.Embedding(len(VOCAB), 64)
        self.lstm = nn.LSTM(64, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, len(VOCAB))

    def forward(self, tokens):
        out, _ = self.lstm(self.embedding(tokens))
        return self.head(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=32)
    ap.add_argument("--every", type=int, default=100, help="steps between snapshots")
    ap.add_argument("--steps", type=int, default=100, help="steps of each loop (a multiple of --chunk)")
    ap.add_argument("--chunk", type=int, default=10, help="steps per chunk; chunks of the two loops alternate")
    ap.add_argument("--probe-len", type=int, default=64)
    ap.add_argument("--probe-n", type=int, default=4)
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    ap.add_argument("--quick", action="store_true", help="10 steps of each loop, a snapshot every 10: a smoke run")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    if args.quick:
        args.every, args.steps, args.chunk = 10, 10, 5
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    model = CharLstm(args.hidden, args.layers)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(1)
    batches = [torch.randint(0, len(VOCAB), (args.batch, args.seq + 1), generator=g) for _ in range(16)]
    probe_texts = ["".join(VOCAB[(7 * i + 3 * n) % len(VOCAB)] for i in range(args.probe_len)) for n in range(args.probe_n)]
    tmp = tempfile.mkdtemp(prefix="gatescope-bench-")
    step = 0

    def train_step():
        nonlocal step
        step += 1
        tokens = batches[step % len(batches)]
        logits = model(tokens[:, :-1])
        loss = nn.functional.cross_entropy(logits.reshape(-1, len(VOCAB)), tokens[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    try:
        run = gatescope.Run(os.path.join(tmp, "run"), every=args.every, config=vars(args))
        run.watch(model.lstm, name="lstm")
        run.probe(probe_texts, vocab=VOCAB, embedding=model.embedding)
        for _ in range(3):  # warm-up
            train_step()
        # Chunks of the two loops alternate, so a shared machine's drift hits both alike; the recorded
        # loop counts its own steps, so it snapshots at its step `every`, 2*`every`, ...
        base_chunks, rec_chunks, in_calls = [], [], []
        rec_step = 0
        def baseline_chunk():
            t0 = time.perf_counter()
            for _ in range(args.chunk):
                train_step()
            base_chunks.append(time.perf_counter() - t0)

        def recorded_chunk():
            nonlocal rec_step
            spent = 0.0
            t0 = time.perf_counter()
            for _ in range(args.chunk):
                loss = train_step()
                rec_step += 1
                c0 = time.perf_counter()
                run.log(rec_step, loss=loss)
                spent += time.perf_counter() - c0
            rec_chunks.append(time.perf_counter() - t0)
            in_calls.append(spent)

        for k in range(args.steps // args.chunk):  # A B, B A, A B, ...: order effects cancel too
            for chunk in ((baseline_chunk, recorded_chunk) if k % 2 == 0 else (recorded_chunk, baseline_chunk)):
                chunk()
        with open(os.path.join(tmp, "run", "events.jsonl"), encoding="utf-8") as f:
            snapshots = sum(1 for line in f if json.loads(line)["kind"] == "snapshot")

        # one snapshot, split into its parts
        parts = {"weights": [], "recompute": [], "probe file": [], "whole snapshot": []}
        for k in range(3):
            w = run._watched["lstm"]
            t0 = time.perf_counter()
            params = w.params()
            _safetensors.write_atomic(os.path.join(tmp, "w.safetensors"), {f"lstm.{n}": t for n, t in params.items()})
            t1 = time.perf_counter()
            x = run._probe.inputs_for(w, params["weight_hh_l0"].device, params["weight_hh_l0"].dtype)
            traces, _, _, _ = recompute(w.config(params), params, x)
            t2 = time.perf_counter()
            _safetensors.write_atomic(os.path.join(tmp, "p.safetensors"), {f"lstm.{n}": t for n, t in traces.items()})
            t3 = time.perf_counter()
            run.snapshot(f"part{k}")
            t4 = time.perf_counter()
            parts["weights"].append(t1 - t0)
            parts["recompute"].append(t2 - t1)
            parts["probe file"].append(t3 - t2)
            parts["whole snapshot"].append(t4 - t3)
        run.close()
        weight_bytes = os.path.getsize(os.path.join(tmp, "w.safetensors"))
        probe_bytes = os.path.getsize(os.path.join(tmp, "p.safetensors"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    rec, base, calls = sum(rec_chunks), sum(base_chunks), sum(in_calls)
    steps = len(rec_chunks) * args.chunk
    result = {
        "model": f"Embedding(65, 64) -> LSTM(64, {args.hidden}, num_layers={args.layers}) -> Linear, batch {args.batch} x {args.seq}",
        "torch": torch.__version__, "threads": torch.get_num_threads(), "steps_per_variant": steps,
        "snapshots_in_recorded_loop": snapshots,
        "baseline_step_ms": 1000 * base / steps, "recorded_step_ms": 1000 * rec / steps,
        "in_call_ms_per_step": 1000 * calls / steps,
        "in_call_overhead_pct": 100 * calls / (rec - calls),
        "ab_overhead_pct": 100 * (rec - base) / base,
        "ab_overhead_pct_median_chunk": 100 * statistics.median((r - b) / b for r, b in zip(rec_chunks, base_chunks)),
        "snapshot_ms": {k: 1000 * statistics.median(v) for k, v in parts.items()},
        "snapshot_bytes": {"weights": weight_bytes, "probe": probe_bytes},
    }
    print(f"{result['model']}; torch {result['torch']}, {result['threads']} thread(s); {steps} steps per variant, "
          f"a snapshot every {args.every} steps")
    print(f"  baseline step        {result['baseline_step_ms']:8.1f} ms")
    print(f"  recorded step        {result['recorded_step_ms']:8.1f} ms")
    print(f"  inside gatescope     {result['in_call_ms_per_step']:8.2f} ms per step -> in-call overhead {result['in_call_overhead_pct']:.2f} %")
    print(f"  A/B wall overhead    {result['ab_overhead_pct']:8.2f} % (median over chunk pairs "
          f"{result['ab_overhead_pct_median_chunk']:+.2f} %; includes the machine's jitter)")
    print("  one snapshot (median of 3): " + ", ".join(f"{k} {v:.1f} ms" for k, v in result["snapshot_ms"].items())
          + f"; files {weight_bytes / 1e6:.1f} MB + {probe_bytes / 1e6:.2f} MB")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
