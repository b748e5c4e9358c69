"""GatescopeModel: any gatescope model as a PyTorch module, built from a checkpoint's metadata ``model``.

The module tree is the one gatescope's checkpoints name (``embedding.weight``, ``rnn.weight_ih_l0``, ...,
``head.weight`` or ``head.<i>.weight``), so ``load_state_dict`` takes a gatescope file's tensors as they
are. It is the README's "Loading it in PyTorch" class, with the index tensors kept on the module's device
(CUDA) and unpadded batches run without packing (same values, less work).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def check_model(m):
    """Refuses, with the reason, a description that PyTorch's modules cannot compute."""
    r = m["rnn"]
    if r.get("recurrent_activation", "sigmoid") != "sigmoid":
        raise ValueError(f"nn.{r['module']} uses sigmoid gates; this model uses {r['recurrent_activation']} (a Keras model)")
    if r["module"] == "GRU" and r.get("gru_reset", "after") != "after":
        raise ValueError("nn.GRU applies the reset gate after the recurrent product; this model applies it before (Keras reset_after=False)")
    if m.get("dtype", "float32") not in DTYPES:
        raise ValueError(f"dtype {m.get('dtype')} is not float32 or float64")


class GatescopeModel(nn.Module):
    """embedding or one-hot -> nn.LSTM/GRU/RNN (batch_first) -> readout -> head, as gatescope trains it."""

    def __init__(self, m):  # m: the checkpoint metadata's "model" (src/core/model.ts modelToJson)
        super().__init__()
        check_model(m)
        e, r = m["embedding"], m["rnn"]
        self.vocab_size, self.readout = m["vocab_size"], m["readout"]
        self.embedding = nn.Embedding(e["num_embeddings"], e["embedding_dim"], padding_idx=e["padding_idx"]) if e else None
        extra = {"nonlinearity": r["nonlinearity"]} if r["module"] == "RNN" else {}
        self.rnn = getattr(nn, r["module"])(r["input_size"], r["hidden_size"], r["num_layers"], bias=r["bias"],
                                            batch_first=True, dropout=r.get("dropout", 0.0),
                                            bidirectional=r["bidirectional"], **extra)
        make = {"Linear": lambda l: nn.Linear(l["in_features"], l["out_features"], bias=l.get("bias", True)),
                "ReLU": lambda l: nn.ReLU(), "Tanh": lambda l: nn.Tanh(), "Dropout": lambda l: nn.Dropout(l.get("p", 0.5))}
        layers = [make[l["type"]](l) for l in m["head"]]
        self.head = nn.Sequential(*layers) if m.get("head_sequential", True) else layers[0]
        self.to(DTYPES[m.get("dtype", "float32")])

    def forward(self, tokens, lengths=None, state=None):
        """tokens [B, T] (int64); lengths [B] (CPU int64) for padded batches; state as nn.LSTM/GRU/RNN take it.

        Returns (scores, state): [B, T, V] next-token scores (per_step) or [B, C] class scores.
        """
        dtype = self.rnn.weight_hh_l0.dtype
        x = self.embedding(tokens) if self.embedding is not None else F.one_hot(tokens, self.vocab_size).to(dtype)
        T = tokens.shape[1]
        if lengths is None:
            out, state = self.rnn(x, state)
        else:
            packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            out, state = self.rnn(packed, state)
            out, _ = pad_packed_sequence(out, batch_first=True, total_length=T)
        if self.readout == "per_step":
            return self.head(out), state
        h = state[0] if isinstance(state, tuple) else state
        if lengths is None:
            lengths = torch.full((tokens.shape[0],), T, dtype=torch.long)
        n = lengths.to(out.device)
        if self.readout == "last":
            features = torch.cat([h[-2], h[-1]], 1) if self.rnn.bidirectional else h[-1]
        elif self.readout == "mean":
            features = out.sum(1) / n[:, None].to(dtype)
        elif self.readout == "max":
            valid = (torch.arange(T, device=out.device)[None, :] < n[:, None])[..., None]
            features = out.masked_fill(~valid, float("-inf")).max(1).values
        else:
            raise ValueError(f"unknown readout {self.readout!r}")
        return self.head(features), state
