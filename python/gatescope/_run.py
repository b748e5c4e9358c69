"""gatescope.Run: records a PyTorch training run into a run directory that gatescope reads.

    RUN_DIR/events.jsonl                 one JSON object per line, appended and flushed
    RUN_DIR/snapshots/<tag>.safetensors  watched weights, `<name>.<pytorch name>`
    RUN_DIR/probes/<tag>.safetensors     the probe batch's traces, `<name>.trace_l0_h`, ...

See python/README.md for the contract.
"""
import json
import math
import numbers
import operator
import os
import re
import socket
import threading
import time
import weakref

import torch
import torch.nn.functional as F

from . import _safetensors
from ._trace import recompute
from ._watch import Watched, check_name

FORMAT_VERSION = 1
__version__ = "0.1.0"
PRODUCER = f"gatescope-python {__version__}"
_TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$")
_RESERVED = {"kind", "step", "time"}
TRACE_LAYOUT = ("<name>.trace_l{layer}[_reverse]_{h|c|gate_i|gate_f|gate_g|gate_o|gate_r|gate_z|gate_n}: [T, N, H], "
                "time-major, reverse direction stored in forward time order")

# Runs open in this process, by directory: a second Run on the same directory (a notebook cell run
# again) closes the first one, which is no longer reachable, with status "superseded".
_OPEN = {}
_OPEN_LOCK = threading.Lock()


def _dist():
    """torch.distributed when a process group is up, else None."""
    try:
        import torch.distributed as dist
    except ImportError:  # pragma: no cover - builds without distributed support
        return None
    if dist.is_available() and dist.is_initialized():
        return dist
    return None


def _env_int(name, default):
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def current_rank():
    """This process's rank: the process group's, else torchrun's RANK variable, else 0."""
    d = _dist()
    return d.get_rank() if d else _env_int("RANK", 0)


def current_world_size():
    d = _dist()
    return d.get_world_size() if d else _env_int("WORLD_SIZE", 1)


def _jsonable(obj, depth=0):
    """A copy of obj that json.dumps(allow_nan=False) accepts: non-finite numbers become null."""
    if depth > 20:
        return str(obj)
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, numbers.Integral):
        return int(obj)
    if isinstance(obj, numbers.Real):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, torch.Tensor) and obj.numel() == 1:
        return _jsonable(obj.item(), depth + 1)
    if isinstance(obj, dict):
        return {str(k): _jsonable(v, depth + 1) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v, depth + 1) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        try:
            return _jsonable(obj.item(), depth + 1)
        except (TypeError, ValueError):
            pass
    return str(obj)


def _scalar(name, value):
    """A logged value as a JSON number (null when not finite)."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"log(): {name} is a tensor of shape {list(value.shape)}; log a single number (loss.item() or loss)")
        value = value.detach().item()
    elif hasattr(value, "item") and not isinstance(value, numbers.Number):
        value = value.item()  # numpy scalar
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        f = float(value)
        return f if math.isfinite(f) else None
    raise TypeError(f"log(): {name}={value!r} is not a number")


def _tokenize(text, vocab):
    """(ids, token strings) of one text under a vocabulary (mapping, sequence or callable)."""
    if vocab is None:
        raise ValueError("probe(): text needs vocab= (a dict token -> id, a list of tokens, or a function text -> ids)")
    if callable(vocab) and not isinstance(vocab, (dict, list, tuple, str)):
        ids = [int(i) for i in vocab(text)]
        return ids, None
    if isinstance(vocab, (list, tuple, str)):
        table = {}
        for i, tok in enumerate(vocab):
            table.setdefault(tok, i)
    elif hasattr(vocab, "items"):
        table = {str(k): int(v) for k, v in vocab.items()}
    else:
        raise TypeError(f"probe(): vocab must be a dict, a list of tokens or a function, got {type(vocab).__name__}")
    chars = all(len(k) == 1 for k in table)
    pieces = list(text) if chars else text.split()
    unk = table.get("<unk>")
    ids, missing = [], []
    for p in pieces:
        i = table.get(p, unk)
        if i is None:
            missing.append(p)
        ids.append(i)
    if missing:
        few = sorted(set(missing))[:10]
        raise ValueError(f"probe(): {len(set(missing))} token(s) are not in the vocabulary ({', '.join(map(repr, few))}); "
                         "add '<unk>' to the vocabulary or leave them out")
    return ids, pieces


class _Probe:
    """The fixed probe batch: token ids [T, N] (then one-hot or an embedding) or inputs x [T, N, F]."""

    def __init__(self, tokens=None, x=None, embedding=None, names=None, texts=None, pieces=None):
        self.tokens = tokens
        self.x = x
        self.embedding = embedding
        self.names = names
        self.texts = texts
        self.pieces = pieces

    @property
    def shape(self):
        t = self.tokens if self.tokens is not None else self.x
        return [int(t.shape[0]), int(t.shape[1])]

    def applies_to(self, name):
        return self.names is None or name in self.names

    @torch.no_grad()
    def inputs_for(self, w, device, dtype):
        """Time-major inputs [T, N, input_size] for watched module w, on its device and dtype."""
        if self.x is not None:
            return self.x.to(device=device, dtype=dtype)
        if self.embedding is not None:
            emb_params = list(self.embedding.parameters()) if isinstance(self.embedding, torch.nn.Module) else []
            tokens = self.tokens.to(emb_params[0].device if emb_params else device)
            return self.embedding(tokens).to(device=device, dtype=dtype)
        return F.one_hot(self.tokens.to(device), w.input_size).to(dtype)

    def check(self, w):
        """Refuses a probe that cannot feed watched module w (at probe() and watch(), not mid-training)."""
        if self.x is not None:
            width = int(self.x.shape[2])
        elif self.embedding is not None:
            width = int(self.inputs_for(w, w.device, w.dtype).shape[2])
        else:
            top = int(self.tokens.max()) if self.tokens.numel() else -1
            if top >= w.input_size or int(self.tokens.min()) < 0:
                raise ValueError(f"probe(): token id {top} does not fit the one-hot input of {w.name!r} (input_size {w.input_size}); "
                                 "pass embedding= if the model embeds tokens")
            return
        if width != w.input_size:
            raise ValueError(f"probe(): inputs have {width} features but {w.name!r} has input_size {w.input_size}; "
                             "pass names= to probe only the modules they fit")

    def record(self):
        rec = {"kind": "probe", "names": list(self.names) if self.names is not None else None,
               "shape": self.shape, "input": "tokens" if self.tokens is not None else "x",
               "embedding": self.embedding is not None}
        if self.texts is not None:
            rec["text"] = self.texts
        return rec


class Run:
    """Records a training run into ``run_dir`` for gatescope's views, diff and trace.

    ``Run(run_dir, every=None, config=None, rank=None)``

    ``every``   take a snapshot ``step{N}`` whenever ``log`` is called with a step that is a multiple of N.
    ``config``  anything JSON-like (hyper-parameters); stored in the start record.
    ``rank``    this process's rank; by default the torch.distributed rank, else torchrun's ``RANK``,
                else 0. Only rank 0 writes; on other ranks every method is a no-op except ``log(sync=True)``.

    Records nothing until the first event (``log``, ``probe``, ``snapshot``, ``epoch_end`` or ``close``),
    which is preceded by the session's ``start`` record with every module watched so far; a module
    watched later is announced by a ``watch`` record. Opening a Run on a directory that already holds
    a run appends a new session (a new ``start`` record) to the same files; a second Run on the same
    directory in the same process (a notebook cell run again) first closes the older one.
    Use as a context manager, or call ``close()``.
    """

    def __init__(self, run_dir, every=None, config=None, rank=None):
        if every is not None and (isinstance(every, bool) or operator.index(every) < 1):
            raise ValueError(f"every must be a positive number of steps, got {every!r}")
        self.dir = os.path.abspath(os.fspath(run_dir))
        self.every = operator.index(every) if every is not None else None
        self.config = _jsonable(config) if config is not None else None
        self.rank = current_rank() if rank is None else int(rank)
        self.is_writer = self.rank == 0
        self.step = None
        self.epoch = 0
        self._watched = {}
        self._probe = None
        self._events = None
        self._started = False
        self._closed = False
        self._last_snapshot_step = None
        self._lock = threading.RLock()
        if self.is_writer:
            os.makedirs(os.path.join(self.dir, "snapshots"), exist_ok=True)
            os.makedirs(os.path.join(self.dir, "probes"), exist_ok=True)
            with _OPEN_LOCK:
                old = _OPEN.get(self.dir)
                old = old() if old is not None else None
                _OPEN[self.dir] = weakref.ref(self)
            if old is not None and old is not self:
                old.close(status="superseded")

    # -- context manager --------------------------------------------------------------------------
    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        elif issubclass(exc_type, KeyboardInterrupt):
            self.close(status="interrupted")
        else:
            self.close(status="error", error=f"{exc_type.__name__}: {exc}"[:1000])
        return False

    def __repr__(self):
        state = "closed" if self._closed else "open"
        return f"gatescope.Run({self.dir!r}, {state}, rank {self.rank}, watching {sorted(self._watched)})"

    # -- events -----------------------------------------------------------------------------------
    def _check_open(self):
        if self._closed:
            raise RuntimeError(f"gatescope.Run({self.dir!r}) is closed")

    def _write(self, record):
        if self._events is None:
            self._events = open(os.path.join(self.dir, "events.jsonl"), "a", encoding="utf-8", newline="\n")
        self._events.write(json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n")
        self._events.flush()

    def _emit(self, record):
        with self._lock:
            if not self._started:
                self._started = True
                self._write(self._start_record())
            self._write(record)

    def _start_record(self):
        rec = {
            "kind": "start", "version": FORMAT_VERSION, "time": round(time.time(), 3), "producer": PRODUCER,
            "torch": torch.__version__, "pid": os.getpid(), "host": socket.gethostname(), "rank": self.rank, "world_size": current_world_size(),
            "every": self.every,
            "model": {n: w.config() for n, w in self._watched.items()},
            "modules": {n: w.info() for n, w in self._watched.items()},
        }
        if self.config is not None:
            rec["config"] = self.config
        return rec

    # -- what is recorded ---------------------------------------------------------------------------
    def watch(self, module, name=None, mapping=None, module_type=None, nonlinearity=None, batch_first=None):
        """Watches a recurrent module; its weights (and probe traces) go into every snapshot.

        ``module``       an ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` (any layers, directions, bias, batch_first),
                         or a from-scratch module together with ``mapping``.
        ``name``         prefix of its tensors in the files (``lstm`` -> ``lstm.weight_ih_l0``); default: the
                         class name in lower case. Watching a name again replaces the module.
        ``mapping``      for a from-scratch module: ``{its parameter name: PyTorch target}``, a target being
                         ``"weight_hh_l0"``, ``("weight_ih_l0", "i")``, ``("weight_ih_l0", "ifog")`` or
                         ``("weight_ih_l0", "ifco", "T")``; see ``gatescope.Param``.
        ``module_type``  'LSTM' | 'GRU' | 'RNN' when the mapping's gate letters do not tell.
        ``nonlinearity`` 'tanh' | 'relu' for a from-scratch RNN.
        ``batch_first``  for a from-scratch module: whether its inputs are [N, T, F] (default False).
        Returns the name.
        """
        self._check_open()
        if name is None:
            inner = getattr(module, "module", module) if not hasattr(module, "mode") else module
            name = type(inner).__name__.lower()
        check_name(name)
        w = Watched(module, name, mapping=mapping, module_type=module_type, nonlinearity=nonlinearity, batch_first=batch_first)
        if self._probe is not None and self._probe.applies_to(name):
            self._probe.check(w)
        with self._lock:
            self._watched[name] = w
            if self.is_writer and self._started:
                self._write({"kind": "watch", "name": name, "time": round(time.time(), 3),
                             "model": {name: w.config()}, "modules": {name: w.info()}})
        return name

    def probe(self, inputs, vocab=None, embedding=None, names=None, batch_first=None):
        """Sets the fixed probe batch whose traces every snapshot records.

        ``inputs``      text (a string, or a list of strings of the same token length) with ``vocab``;
                        token ids (an integer tensor or list, [T] or [N, T] / [T, N] as ``batch_first``); or
                        float inputs x ([T, F] or [N, T, F] / [T, N, F]) fed to the module directly.
        ``vocab``       for text: a dict token -> id, a list of tokens (id = position) or a function
                        text -> ids. Single-character tokens split the text into characters, others split it
                        at whitespace; an unknown token becomes ``<unk>`` when the vocabulary has one.
        ``embedding``   for tokens: the model's embedding (any per-token function such as ``nn.Embedding``),
                        applied at every snapshot with its weights of the moment; without it tokens are
                        one-hot over the module's input_size.
        ``names``       the watched modules the probe feeds (default: all, including those watched later).
        ``batch_first`` layout of a 2-D token or 3-D input tensor; default: the watched modules' own.
        """
        self._check_open()
        if not self._watched:
            raise RuntimeError("probe(): watch() a module first")
        if names is not None:
            names = (names,) if isinstance(names, str) else tuple(names)
            unknown = [n for n in names if n not in self._watched]
            if unknown:
                raise KeyError(f"probe(): not watched: {', '.join(unknown)} (watched: {', '.join(self._watched)})")
        targets = [w for n, w in self._watched.items() if names is None or n in names]
        if batch_first is None:
            layouts = {w.batch_first for w in targets}
            batch_first = layouts.pop() if len(layouts) == 1 else None
        texts = pieces = None
        if isinstance(inputs, str) or (isinstance(inputs, (list, tuple)) and inputs and all(isinstance(s, str) for s in inputs)):
            texts = [inputs] if isinstance(inputs, str) else list(inputs)
            encoded = [_tokenize(t, vocab) for t in texts]
            lengths = {len(ids) for ids, _ in encoded}
            if len(lengths) != 1 or 0 in lengths:
                raise ValueError(f"probe(): the texts must be non-empty and have the same number of tokens, got {sorted(lengths)}")
            tokens = torch.tensor([ids for ids, _ in encoded], dtype=torch.int64).t().contiguous()  # [T, N]
            pieces = [p for _, p in encoded] if all(p is not None for _, p in encoded) else None
            probe = _Probe(tokens=tokens, embedding=embedding, names=names, texts=texts, pieces=pieces)
        else:
            t = inputs if isinstance(inputs, torch.Tensor) else torch.as_tensor(inputs)
            t = t.detach()
            if t.dim() == 0 or t.numel() == 0:
                raise ValueError("probe(): empty inputs")
            if t.is_floating_point():
                if embedding is not None:
                    raise ValueError("probe(): embedding= is for token ids, not float inputs")
                if t.dim() == 2:
                    t = t.unsqueeze(1)
                elif t.dim() == 3:
                    if batch_first is None:
                        raise ValueError("probe(): the watched modules disagree on batch_first; pass batch_first=")
                    t = t.transpose(0, 1) if batch_first else t
                else:
                    raise ValueError(f"probe(): float inputs must be [T, F] or 3-D, got shape {list(t.shape)}")
                probe = _Probe(x=t.to("cpu").clone(), names=names)
            elif not t.is_complex() and t.dtype != torch.bool:
                if t.dim() == 1:
                    t = t.unsqueeze(1)
                elif t.dim() == 2:
                    if batch_first is None:
                        raise ValueError("probe(): the watched modules disagree on batch_first; pass batch_first=")
                    t = t.t() if batch_first else t
                else:
                    raise ValueError(f"probe(): token ids must be [T] or 2-D, got shape {list(t.shape)}")
                probe = _Probe(tokens=t.to(device="cpu", dtype=torch.int64).contiguous(), embedding=embedding, names=names)
            else:
                raise TypeError(f"probe(): inputs of dtype {t.dtype} are neither token ids nor float inputs")
        for w in targets:
            probe.check(w)
        self._probe = probe
        if self.is_writer:
            self._emit(probe.record())

    def log(self, step, sync=False, **scalars):
        """Appends ``{"kind": "scalar", "step": step, name: value, ..., "time": ...}`` to events.jsonl.

        Values are numbers, numpy scalars or one-element tensors (NaN and infinities are written as null).
        Under torch.distributed only rank 0 writes, and by default only rank 0's values are logged,
        with no communication. ``sync=True`` averages every value over the ranks first (one all_reduce):
        then every rank must call log with the same names at the same point, or the collective waits.
        With ``every=N``, a step that is a multiple of N then takes the snapshot ``step{step}``.
        """
        self._check_open()
        if isinstance(step, bool):
            raise TypeError("log(): step must be an integer")
        step = operator.index(step)
        clash = _RESERVED & set(scalars)
        if clash:
            raise ValueError(f"log(): {', '.join(sorted(clash))} is reserved in events.jsonl; use another name")
        if sync and scalars:
            scalars = self._all_reduce_mean(scalars)
        if not self.is_writer:
            return
        with self._lock:
            self.step = step
            if scalars:
                rec = {"kind": "scalar", "step": step}
                for k, v in scalars.items():
                    rec[k] = _scalar(k, v)
                rec["time"] = round(time.time(), 3)
                self._emit(rec)
            if self.every and step % self.every == 0 and self._watched and self._last_snapshot_step != step:
                self.snapshot(f"step{step}", step=step)

    @staticmethod
    def _all_reduce_mean(scalars):
        d = _dist()
        if d is None or d.get_world_size() == 1:
            return scalars
        device = torch.device("cuda", torch.cuda.current_device()) if d.get_backend() == "nccl" else torch.device("cpu")
        names = sorted(scalars)
        values = []
        for k in names:
            v = scalars[k]
            if isinstance(v, torch.Tensor):
                if v.numel() != 1:
                    raise ValueError(f"log(): {k} is a tensor of shape {list(v.shape)}; log a single number")
                values.append(v.detach().reshape(()).to(device=device, dtype=torch.float64))
            else:
                f = _scalar(k, v)
                values.append(torch.tensor(math.nan if f is None else float(f), dtype=torch.float64, device=device))
        # a checksum of the names rides along: ranks that log different names get an error, not wrong means
        key = sum((i + 1) * b for i, b in enumerate(",".join(names).encode("utf-8"))) % 1000003
        values.append(torch.tensor(float(key), dtype=torch.float64, device=device))
        buf = torch.stack(values)
        d.all_reduce(buf, op=d.ReduceOp.SUM)
        world = d.get_world_size()
        out = (buf / world).tolist()
        if abs(out[-1] - key) > 1e-6:
            raise ValueError(f"log(sync=True): the ranks logged different scalar names (this rank: {', '.join(names)})")
        return dict(zip(names, out[:-1]))

    # -- snapshots ------------------------------------------------------------------------------------
    def snapshot(self, tag=None, step=None, epoch=None):
        """Writes ``snapshots/<tag>.safetensors`` (watched weights) and ``probes/<tag>.safetensors``.

        ``tag`` defaults to ``step{last logged step}``; letters, digits, ``_ . -``. An existing tag is
        replaced. Both files are written atomically (temporary file, fsync, rename), then the
        ``snapshot`` record is appended. Returns the tag (None on ranks other than 0).
        """
        self._check_open()
        if not self._watched:
            raise RuntimeError("snapshot(): nothing is watched; call watch(module) first")
        step = self.step if step is None else operator.index(step)
        if tag is None:
            tag = f"step{step}" if step is not None else f"snapshot{int(time.time() * 1000)}"
        if not isinstance(tag, str) or not _TAG.match(tag):
            raise ValueError(f"snapshot(): tag {tag!r} must be 1-200 letters, digits, '_', '.' or '-', starting with a letter or digit")
        if not self.is_writer:
            return None
        with self._lock, torch.no_grad():
            weights, configs, per_module = {}, {}, {}
            for name, w in self._watched.items():
                params = w.params()
                per_module[name] = params
                configs[name] = w.config(params)
                for pname, t in params.items():
                    weights[f"{name}.{pname}"] = t
            meta = {"format": "pt", "producer": PRODUCER, "tag": tag, "torch_version": torch.__version__,
                    "models": json.dumps(configs, separators=(",", ":"))}
            if step is not None:
                meta["step"] = str(step)
            if epoch is not None:
                meta["epoch"] = str(epoch)
            rel_weights = f"snapshots/{tag}.safetensors"
            _safetensors.write_atomic(os.path.join(self.dir, rel_weights), weights, meta)
            rel_probe = None
            if self._probe is not None:
                traces = self._traces(per_module, configs)
                if traces:
                    pmeta = dict(meta, trace_layout=TRACE_LAYOUT)
                    pmeta["probe"] = json.dumps(self._probe.record(), separators=(",", ":"))
                    if self._probe.pieces is not None:
                        pmeta["probe_text"] = json.dumps(self._probe.pieces, separators=(",", ":"), ensure_ascii=False)
                    rel_probe = f"probes/{tag}.safetensors"
                    _safetensors.write_atomic(os.path.join(self.dir, rel_probe), traces, pmeta)
            rec = {"kind": "snapshot", "tag": tag, "step": step}
            if epoch is not None:
                rec["epoch"] = epoch
            rec.update({"weights": rel_weights, "probe": rel_probe, "time": round(time.time(), 3)})
            self._emit(rec)
            self._last_snapshot_step = step
        return tag

    def _traces(self, per_module, configs):
        probe = self._probe
        out = {}
        for name, w in self._watched.items():
            if not probe.applies_to(name):
                continue
            params = per_module[name]
            first = next(iter(params.values()))
            x = probe.inputs_for(w, first.device, first.dtype)
            traces, _, _, _ = recompute(configs[name], params, x)
            for tname, t in traces.items():
                out[f"{name}.{tname}"] = t
            if probe.tokens is not None:
                out[f"{name}.probe_tokens"] = probe.tokens
            if probe.x is not None or probe.embedding is not None:
                out[f"{name}.probe_x"] = x.transpose(0, 1) if w.batch_first else x
        return out

    def epoch_end(self, epoch=None):
        """Marks the end of an epoch (1, 2, ... unless given) with the snapshot ``epoch{e}``; returns the tag."""
        self._check_open()
        self.epoch = operator.index(epoch) if epoch is not None else self.epoch + 1
        if not self.is_writer or not self._watched:
            if self.is_writer:
                self._emit({"kind": "epoch", "epoch": self.epoch, "step": self.step, "time": round(time.time(), 3)})
            return None
        return self.snapshot(f"epoch{self.epoch}", epoch=self.epoch)

    def close(self, status="ok", error=None):
        """Appends the ``end`` record and closes events.jsonl; later calls do nothing."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self.is_writer:
                rec = {"kind": "end", "step": self.step, "status": status, "time": round(time.time(), 3)}
                if error:
                    rec["error"] = error
                try:
                    self._emit(rec)
                finally:
                    if self._events is not None:
                        self._events.close()
                        self._events = None
                    with _OPEN_LOCK:
                        ref = _OPEN.get(self.dir)
                        if ref is not None and ref() is self:
                            del _OPEN[self.dir]
