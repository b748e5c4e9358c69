"""The torch engine of ``gatescope train --engine torch``: a gatescope model trained by PyTorch.

    python -m gatescope.trainer --connect 127.0.0.1:PORT [--device cpu|cuda]
    python -m torch.distributed.run --nproc_per_node N ... -m gatescope.trainer --connect ... # N ranks
    python -m gatescope.trainer --check          # prints what this Python's torch offers, as JSON

gatescope's node side keeps the whole training loop (src/core/train/session.ts: data, batch order,
learning-rate schedule, evaluation, gate statistics, checkpoints, events); this process is its engine
(src/core/engine.ts LmEngine): it holds the model (GatescopeModel, the README's module), the torch.optim
optimizer and the carried state, and answers one request at a time over a TCP connection to 127.0.0.1
that it opens itself (``--connect``; the first message carries the token from the environment variable
GATESCOPE_TRAINER_TOKEN, so nothing else on the machine can drive it).

Messages, both ways: a 12-byte header (uint32 JSON length n, uint64 data length m, little-endian), n bytes
of UTF-8 JSON, m bytes of tensor data. The JSON's ``tensors`` lists ``{name, dtype, shape}``; their raw
little-endian bytes follow one another in that order, each padded to a multiple of 8 bytes. Requests
have an ``op``; every reply has ``ok`` (and ``error`` with ``traceback`` when false).

With N ranks (torchrun), rank 0 talks to gatescope and broadcasts the requests that change the model or
need every rank (init, step, set_*, get_carried, reset_state, close); evaluation and reading weights or
optimizer state are answered by rank 0 alone (the replicas are identical). A training batch is split by
rows, rank r taking rows [B*r/N, B*(r+1)/N); each rank's loss is its targets' summed cross-entropy divided
by the whole batch's count of targets (times N, which DistributedDataParallel's gradient average divides
out), so the summed gradient is the whole batch's mean-loss gradient whatever the split.
"""
import argparse
import datetime
import json
import math
import os
import signal
import socket
import struct
import sys
import time
import traceback

PROTOCOL = 1
_HEADER = struct.Struct("<IQ")
IGNORE_INDEX = -100
# Requests every rank takes part in; the others are rank 0's alone.
COLLECTIVE = {"init", "step", "set_params", "set_optimizer", "set_carried", "get_carried", "reset_state", "close"}
# torch.optim state buffers in the order gatescope's optimizers create them (src/core/optim.ts).
BUFFERS = {"sgd": ["momentum_buffer"], "adam": ["exp_avg", "exp_avg_sq"],
           "rmsprop": ["square_avg", "grad_avg", "momentum_buffer"], "adagrad": ["sum"]}


def fail(message, code=2):
    """A fatal error before the connection exists: one line gatescope shows as it is."""
    print(f"gatescope-trainer: {message}", file=sys.stderr, flush=True)
    sys.exit(code)


# ---- framing ----------------------------------------------------------------------------------------------

def _dtypes():
    import torch
    return {"float32": torch.float32, "float64": torch.float64, "int32": torch.int32, "int64": torch.int64}


class Channel:
    """Framed messages over a connected socket."""

    def __init__(self, sock):
        import torch
        from ._safetensors import _host_bytes
        self.torch, self.host_bytes = torch, _host_bytes
        self.sock = sock
        self.reader = sock.makefile("rb", buffering=1 << 16)
        self.dtypes = _dtypes()
        self.names = {v: k for k, v in self.dtypes.items()}

    def _read_into(self, buf):
        view, got = memoryview(buf), 0
        while got < len(buf):
            n = self.reader.readinto(view[got:])
            if not n:
                raise EOFError("connection closed")
            got += n

    def recv(self):
        """(header, {name: tensor}), or None when gatescope closed the connection."""
        head = self.reader.read(_HEADER.size)
        if not head:
            return None
        if len(head) < _HEADER.size:
            raise EOFError("connection closed in a message header")
        n, m = _HEADER.unpack(head)
        text = bytearray(n)
        self._read_into(text)
        header = json.loads(text.decode("utf-8"))
        data = bytearray(m)
        self._read_into(data)
        tensors, offset = {}, 0
        for d in header.pop("tensors", []):
            dtype = self.dtypes[d["dtype"]]
            count = 1
            for s in d["shape"]:
                count *= s
            size = count * self.torch.empty((), dtype=dtype).element_size()
            if offset + size > m:
                raise ValueError(f"tensor {d['name']} runs past the message's data")
            t = self.torch.frombuffer(data, dtype=dtype, count=count, offset=offset) if count else self.torch.empty(0, dtype=dtype)
            tensors[d["name"]] = t.reshape(d["shape"])
            offset += (size + 7) & ~7
        return header, tensors

    def send(self, header, tensors=None):
        descriptors, parts, keep, size = [], [], [], 0
        for name, t in (tensors or {}).items():
            t = t.detach()
            if t.dtype not in self.names:
                t = t.to(self.torch.float64)
            k, raw = self.host_bytes(t)
            keep.append(k)
            descriptors.append({"name": name, "dtype": self.names[t.dtype], "shape": list(t.shape)})
            parts.append(raw)
            pad = (8 - len(raw) % 8) % 8
            if pad:
                parts.append(b"\0" * pad)
            size += len(raw) + pad
        text = json.dumps(_finite({**header, "tensors": descriptors}), allow_nan=False).encode("utf-8")
        self.sock.sendall(_HEADER.pack(len(text), size) + text)
        for p in parts:
            self.sock.sendall(p)


def _finite(v):
    """JSON has no NaN or infinities: they travel as the strings JavaScript's Number() reads back."""
    if isinstance(v, float) and not math.isfinite(v):
        return "NaN" if v != v else "Infinity" if v > 0 else "-Infinity"
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_finite(x) for x in v]
    return v


# ---- the engine -------------------------------------------------------------------------------------------

def row_range(batch, rank, world):
    """Rows [lo, hi) of a batch of `batch` rows that rank `rank` of `world` trains on."""
    return batch * rank // world, batch * (rank + 1) // world


class Engine:
    """One rank's model, optimizer and carried states; `handle` answers a request."""

    def __init__(self, init, params, device, dist=None):
        import torch
        from ._model import GatescopeModel
        self.torch, self.F = torch, torch.nn.functional
        self.dist = dist
        self.rank = dist.get_rank() if dist else 0
        self.world = dist.get_world_size() if dist else 1
        self.device = device
        m = init["model"]
        torch.manual_seed(int(init.get("seed", 0)) * 1000 + self.rank)  # dropout masks: a stream per rank
        self.model = GatescopeModel(m).to(device)
        self.lm = m["readout"] == "per_step"
        self.lstm = m["rnn"]["module"] == "LSTM"
        self.named = list(self.model.named_parameters())
        self.params = [p for _, p in self.named]
        self.set_params(params)
        if dist:
            from torch.nn.parallel import DistributedDataParallel
            ids = [device.index] if device.type == "cuda" else None
            self.net = DistributedDataParallel(self.model, device_ids=ids, broadcast_buffers=False)
        else:
            self.net = self.model
        self.opt = self.opt_key = self.opt_cfg = None
        self.opt_steps = 0
        self.pending = None  # optimizer state loaded before the optimizer exists (a resume)
        self.train_state = None
        self.eval_state = None

    # -- requests --

    def handle(self, op, h, t):
        fn = getattr(self, "op_" + str(op), None)
        if fn is None:
            raise ValueError(f"unknown request {op!r}")
        return fn(h, t)

    def op_ping(self, h, t):
        return {}, None

    def op_close(self, h, t):
        return {}, None

    def op_step(self, h, t):
        torch = self.torch
        B, T = int(h["batchSize"]), int(h["seqLen"])
        tokens, lengths, targets = self._batch(B, T, t)
        n = int((targets != IGNORE_INDEX).sum()) if self.lm else B
        lo, hi = row_range(B, self.rank, self.world)
        opt = self._optimizer(h["optimizer"])
        self.model.train()
        opt.zero_grad(set_to_none=True)
        stateful = bool(h.get("stateful"))
        if hi > lo:
            state = self.train_state if stateful else None
            scores, final = self.net(tokens[lo:hi], None if lengths is None else lengths[lo:hi], state)
            ce, correct = self._cross_entropy(scores, targets[lo:hi])
        else:
            # Fewer rows than ranks: this rank runs one row to take part in the gradient all-reduce, with
            # zero weight, so it adds nothing.
            scores, final = self.net(tokens[:1], None if lengths is None else lengths[:1], None)
            ce, correct = self._cross_entropy(scores, targets[:1])
            ce, correct, final = ce * 0, correct * 0, None
        loss = ce / n * self.world if n else ce * 0
        loss.backward()
        for p in self.params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        norm = self._clip(h.get("clip") or {})
        opt.step()
        self.opt_steps += 1
        stats = torch.stack([ce.detach().to(torch.float64), correct.detach().to(torch.float64)])
        if self.dist:
            self.dist.all_reduce(stats)
        stats = stats.tolist()
        # Truncated BPTT: the next window starts from this one's final state, detached.
        self.train_state = _detach(final) if stateful else None
        out = {"loss": stats[0] / n if n else 0.0, "gradNorm": float(norm)}
        if not self.lm:
            out["accuracy"] = stats[1] / n if n else 0.0
        return out, None

    def op_evaluate(self, h, t):
        torch = self.torch
        B, T = int(h["batchSize"]), int(h["seqLen"])
        tokens, lengths, targets = self._batch(B, T, t)
        stateful = bool(h.get("stateful"))
        with torch.no_grad():
            self.model.eval()
            scores, final = self.model(tokens, lengths, self.eval_state if stateful else None)
            ce, correct = self._cross_entropy(scores, targets)
        self.eval_state = _detach(final) if stateful else None
        n = int((targets != IGNORE_INDEX).sum()) if self.lm else B
        out = {"loss": float(ce) / n if n else 0.0}
        if not self.lm:
            out["accuracy"] = float(correct) / n if n else 0.0
        return out, None

    def op_reset_state(self, h, t):
        self.train_state = self.eval_state = None
        return {}, None

    def op_reset_eval_state(self, h, t):
        self.eval_state = None
        return {}, None

    def op_get_params(self, h, t):
        return {}, {name: p.detach() for name, p in self.named}

    def op_set_params(self, h, t):
        self.set_params(t)
        return {}, None

    def op_get_optimizer(self, h, t):
        return {}, self._optimizer_state()

    def op_set_optimizer(self, h, t):
        if self.opt is None:
            self.pending = dict(t)
        else:
            self._load_optimizer(t)
        return {}, None

    def op_get_carried(self, h, t):
        local = {}
        if self.train_state is not None:
            h0, c0 = self.train_state if isinstance(self.train_state, tuple) else (self.train_state, None)
            local["h"] = h0.detach().cpu()
            if c0 is not None:
                local["c"] = c0.detach().cpu()
        if not self.dist:
            return {}, local
        gathered = [None] * self.world
        self.dist.all_gather_object(gathered, local)
        out = {}
        for key in ("h", "c"):
            parts = [g[key] for g in gathered if key in g]
            if parts:
                out[key] = self.torch.cat(parts, 1)
        return {}, out

    def op_set_carried(self, h, t):
        if "h" not in t:
            self.train_state = None
            return {}, None
        full_h = t["h"]
        lo, hi = row_range(full_h.shape[1], self.rank, self.world)
        if hi <= lo:
            self.train_state = None
            return {}, None
        dtype = self.params[0].dtype
        h0 = full_h[:, lo:hi].to(device=self.device, dtype=dtype).contiguous()
        if self.lstm:
            c0 = t["c"][:, lo:hi].to(device=self.device, dtype=dtype).contiguous() if "c" in t else self.torch.zeros_like(h0)
            self.train_state = (h0, c0)
        else:
            self.train_state = h0
        return {}, None

    # -- parts --

    def set_params(self, tensors):
        torch = self.torch
        names = [n for n, _ in self.named]
        missing = [n for n in names if n not in tensors]
        if missing:
            raise ValueError(f"missing parameters: {', '.join(missing)}")
        with torch.no_grad():
            for name, p in self.named:
                src = tensors[name]
                if tuple(src.shape) != tuple(p.shape):
                    raise ValueError(f"parameter {name} has shape {list(src.shape)}, the model's is {list(p.shape)}")
                p.copy_(src.to(dtype=p.dtype))

    def _batch(self, B, T, t):
        torch = self.torch
        tokens = t["inputs"].reshape(B, T).to(device=self.device, dtype=torch.long)
        lengths = t["lengths"].to(torch.long) if "lengths" in t else None
        if self.lm:
            targets = t["targets"].reshape(B, T).to(torch.long).clone()
            if lengths is not None:
                targets[torch.arange(T)[None, :] >= lengths[:, None]] = IGNORE_INDEX
        else:
            targets = t["targets"].reshape(B).to(torch.long)
        return tokens, lengths, targets.to(self.device)

    def _cross_entropy(self, scores, targets):
        """(summed cross-entropy over the counted targets, number classified right)."""
        if self.lm:
            s = scores.reshape(-1, scores.shape[-1])
            tg = targets.reshape(-1)
            ce = self.F.cross_entropy(s, tg, ignore_index=IGNORE_INDEX, reduction="sum")
            correct = ((s.argmax(1) == tg) & (tg != IGNORE_INDEX)).sum()
        else:
            ce = self.F.cross_entropy(scores, targets, reduction="sum")
            correct = (scores.argmax(1) == targets).sum()
        return ce, correct

    def _norm(self):
        torch = self.torch
        return torch.norm(torch.stack([torch.norm(p.grad.detach(), 2.0) for p in self.params]), 2.0)

    def _clip(self, clip):
        """src/core/optim.ts applyClipping: the norm before clipping; value clip, then norm clip."""
        clip_norm, clip_value = self.torch.nn.utils.clip_grad_norm_, self.torch.nn.utils.clip_grad_value_
        max_norm, value = clip.get("maxNorm"), clip.get("value")
        if value is None:
            return clip_norm(self.params, max_norm) if max_norm is not None else self._norm()
        before = self._norm()
        clip_value(self.params, value)
        if max_norm is not None:
            clip_norm(self.params, max_norm)
        return before

    def _optimizer_args(self, cfg):
        torch = self.torch
        kind, lr, wd = cfg["kind"], cfg["lr"], cfg.get("weightDecay", 0)
        if kind == "sgd":
            return torch.optim.SGD, dict(lr=lr, momentum=cfg.get("momentum", 0), dampening=cfg.get("dampening", 0),
                                         nesterov=bool(cfg.get("nesterov", False)), weight_decay=wd)
        if kind == "adam":
            return torch.optim.Adam, dict(lr=lr, betas=tuple(cfg.get("betas", (0.9, 0.999))), eps=cfg.get("eps", 1e-8), weight_decay=wd)
        if kind == "rmsprop":
            return torch.optim.RMSprop, dict(lr=lr, alpha=cfg.get("alpha", 0.99), eps=cfg.get("eps", 1e-8), weight_decay=wd,
                                             momentum=cfg.get("momentum", 0), centered=bool(cfg.get("centered", False)))
        if kind == "adagrad":
            return torch.optim.Adagrad, dict(lr=lr, lr_decay=cfg.get("lrDecay", 0), weight_decay=wd,
                                             initial_accumulator_value=cfg.get("initialAccumulatorValue", 0), eps=cfg.get("eps", 1e-10))
        raise ValueError(f"unknown optimizer {kind!r}")

    def _optimizer(self, cfg):
        """src/core/optim.ts OptimizerSlot: kept while only the learning rate changes, rebuilt otherwise."""
        key = json.dumps({**cfg, "lr": 0}, sort_keys=True)
        if self.opt is None or key != self.opt_key:
            cls, kwargs = self._optimizer_args(cfg)
            self.opt, self.opt_key, self.opt_cfg, self.opt_steps = cls(self.params, **kwargs), key, cfg, 0
            if self.pending is not None:
                self._load_optimizer(self.pending)
                self.pending = None
        for g in self.opt.param_groups:
            g["lr"] = cfg["lr"]
        return self.opt

    def _step_like(self, steps):
        """`steps` as this torch version keeps an optimizer's per-parameter 'step' (a tensor, an int, none)."""
        torch = self.torch
        cls, kwargs = self._optimizer_args(self.opt_cfg)
        p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        p.grad = torch.zeros(1, dtype=torch.float64)
        probe = cls([p], **kwargs)
        probe.step()
        s = probe.state[p].get("step")
        if s is None:
            return None
        return torch.full_like(s, float(steps)) if isinstance(s, torch.Tensor) else type(s)(steps)

    def _load_optimizer(self, state):
        """gatescope's optimizer state (`<param>.<buffer>` and `step`) into the torch.optim optimizer."""
        torch, cfg = self.torch, self.opt_cfg
        kind = cfg["kind"]
        steps = int(round(float(state["step"].reshape(-1)[0]))) if "step" in state else 0
        needed = {"adam": ["exp_avg", "exp_avg_sq"], "adagrad": ["sum"], "sgd": [],
                  "rmsprop": ["square_avg"] + (["grad_avg"] if cfg.get("centered") else [])
                  + (["momentum_buffer"] if cfg.get("momentum", 0) > 0 else [])}[kind]
        self.opt.state.clear()
        like = self._step_like(steps)
        for name, p in self.named:
            entry = {}
            for buf in BUFFERS[kind]:
                src = state.get(f"{name}.{buf}")
                if src is not None:
                    entry[buf] = src.to(device=p.device, dtype=p.dtype).reshape(p.shape).clone()
                elif buf in needed:
                    fill = cfg.get("initialAccumulatorValue", 0) if buf == "sum" else 0
                    entry[buf] = torch.full_like(p, fill, memory_format=torch.preserve_format).detach()
            if kind == "sgd" and cfg.get("momentum", 0) and "momentum_buffer" not in entry:
                entry["momentum_buffer"] = None
            if like is not None:
                entry["step"] = like.clone() if isinstance(like, torch.Tensor) else like
            self.opt.state[p] = entry
        self.opt_steps = steps

    def _optimizer_state(self):
        torch = self.torch
        if self.opt is None:
            return dict(self.pending or {})
        out = {}
        for name, p in self.named:
            st = self.opt.state.get(p, {})
            for buf in BUFFERS[self.opt_cfg["kind"]]:
                v = st.get(buf)
                if isinstance(v, torch.Tensor):
                    out[f"{name}.{buf}"] = v.detach()
        out["step"] = torch.tensor(float(self.opt_steps), dtype=torch.float64)
        return out


def _detach(state):
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


# ---- processes --------------------------------------------------------------------------------------------

def check():
    import torch
    import torch.distributed as dist
    info = {"torch": torch.__version__, "python": sys.version.split()[0], "executable": sys.executable,
            "cuda": torch.cuda.is_available(), "cuda_devices": torch.cuda.device_count() if torch.cuda.is_available() else 0,
            "distributed": dist.is_available(),
            "gloo": dist.is_available() and dist.is_gloo_available(), "nccl": dist.is_available() and dist.is_nccl_available()}
    print(json.dumps(info))
    return 0


def serve(args):
    import torch
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if args.device == "cuda":
        if not torch.cuda.is_available():
            fail(f"--device cuda: torch {torch.__version__} in {sys.executable} sees no CUDA device (torch.cuda.is_available() is False)")
        if local_rank >= torch.cuda.device_count():
            fail(f"--nproc: rank {rank} needs CUDA device {local_rank}, but {torch.cuda.device_count()} are visible")
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    dist = None
    if world > 1:
        import torch.distributed as dist
        backend = "nccl" if device.type == "cuda" else "gloo"
        if not dist.is_available() or not (dist.is_nccl_available() if backend == "nccl" else dist.is_gloo_available()):
            fail(f"torch {torch.__version__} has no torch.distributed {backend} backend")
        # The node side may take its time between requests (evaluation, gate statistics): wait long.
        dist.init_process_group(backend, timeout=datetime.timedelta(hours=24))
    if rank == 0:
        code = serve_rank0(args, device, dist, world)
    else:
        code = serve_other(device, dist)
    if dist:
        dist.destroy_process_group()
    return code


def _broadcast(dist, item=None):
    box = [item]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def serve_rank0(args, device, dist, world):
    import torch
    host, _, port = args.connect.rpartition(":")
    try:
        sock = socket.create_connection((host or "127.0.0.1", int(port)))
    except OSError as e:
        fail(f"cannot connect to gatescope at {args.connect}: {e}")
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    chan = Channel(sock)
    chan.send({"op": "hello", "token": os.environ.get("GATESCOPE_TRAINER_TOKEN", ""), "protocol": PROTOCOL,
               "torch": torch.__version__, "python": sys.version.split()[0], "executable": sys.executable,
               "device": str(device), "world": world, "pid": os.getpid()})
    engine = None
    while True:
        msg = chan.recv()
        if msg is None:  # gatescope went away: let the other ranks go too
            if dist:
                _broadcast(dist, ("close", {}, {}))
            return 0
        header, tensors = msg
        op = header.get("op")
        if dist and op in COLLECTIVE:
            _broadcast(dist, (op, header, tensors))
        try:
            if op == "init":
                engine = Engine(header, tensors, device, dist)
                reply, out = {}, None
            elif engine is None:
                raise ValueError(f"request {op!r} before init")
            else:
                started = time.perf_counter()
                reply, out = engine.handle(op, header, tensors)
                # the request's time in here (its garbage freed too): what the round trip adds is the rest
                reply["seconds"] = time.perf_counter() - started
        except Exception as e:  # noqa: BLE001 - every failure goes back to gatescope
            chan.send({"ok": False, "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()})
            if dist and op in COLLECTIVE:
                return 1  # the other ranks may be inside a collective: end the job
            continue
        chan.send({"ok": True, **reply}, out)
        if op == "close":
            return 0


def serve_other(device, dist):
    engine = None
    while True:
        op, header, tensors = _broadcast(dist)
        if op == "init":
            engine = Engine(header, tensors, device, dist)
        elif op == "close":
            return 0
        elif engine is not None:
            engine.handle(op, header, tensors)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m gatescope.trainer", description="gatescope's torch engine")
    parser.add_argument("--connect", help="HOST:PORT of the gatescope process that drives this trainer")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--check", action="store_true", help="print torch's version and devices as JSON and exit")
    args = parser.parse_args(argv)
    # gatescope handles Ctrl-C (it stops after the current step and saves through this process).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import torch  # noqa: F401
    except ImportError as e:
        fail(f"{sys.executable} cannot import torch ({e}); install PyTorch for it or choose another Python")
    if args.check:
        return check()
    if not args.connect:
        parser.error("--connect HOST:PORT is required")
    sys.stdout = sys.stderr  # nothing but the protocol socket is for gatescope; stray prints go to stderr
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
