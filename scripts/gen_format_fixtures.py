#!/usr/bin/python3
"""Small real files in other frameworks' formats for gatescope's import tests.

Run with Debian's Python (torch, numpy, h5py, onnx): /usr/bin/python3 scripts/gen_format_fixtures.py
Writes test/fixtures/formats/. Everything is seeded, so reruns give the same numbers.
"""
import json
import os
import sys

import numpy as np
import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "formats")


def out(*parts):
    p = os.path.join(ROOT, *parts)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    return p


def save_json(obj, *parts):
    with open(out(*parts), "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
        f.write("\n")


def gen_pt_and_npy():
    """torch.save variants (zip, legacy, views, checkpoints, whole modules) and numpy layouts."""
    torch.manual_seed(1)
    lstm = torch.nn.LSTM(3, 2).double()
    sd = lstm.state_dict()
    torch.save(sd, out("pt", "legacy.pt"), _use_new_zipfile_serialization=False)
    torch.save(sd, out("pt", "zip.pt"))
    # Views into one shared storage, a transposed (non-contiguous) tensor, several dtypes.
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    views = {"whole": base, "row": base[1], "cols": base[:, 2:4], "t": base.t(),
             "i64": torch.tensor([1, -2, 3 << 40]), "half": torch.tensor([0.5, -2.0], dtype=torch.float16),
             "b": torch.tensor([True, False])}
    torch.save(views, out("pt", "views.pt"))
    torch.save(views, out("pt", "views_legacy.pt"), _use_new_zipfile_serialization=False)
    torch.save({"model": sd, "epoch": 3, "lr": 0.1}, out("pt", "checkpoint.pt"))
    torch.save(lstm, out("pt", "whole_module.pt"))
    torch.save(lstm, out("pt", "whole_module_legacy.pt"), _use_new_zipfile_serialization=False)
    torch.save(torch.nn.Parameter(torch.ones(2, 2)), out("pt", "parameter.pt"))
    expect = {k: {"shape": list(v.shape), "values": v.double().flatten().tolist() if v.dtype != torch.int64 else [str(x) for x in v.flatten().tolist()]}
              for k, v in views.items()}
    save_json(expect, "pt", "views.json")

    a = np.arange(12, dtype=np.float64).reshape(3, 4) / 7
    np.save(out("npy", "c_f8.npy"), a)
    np.save(out("npy", "fortran_f8.npy"), np.asfortranarray(a))
    np.save(out("npy", "big_f4.npy"), a.astype(">f4"))
    np.save(out("npy", "big_fortran_i8.npy"), np.asfortranarray(np.arange(24, dtype=">i8").reshape(2, 3, 4)))
    np.save(out("npy", "u2.npy"), np.array([1, 65535], dtype=np.uint16))
    np.save(out("npy", "scalar.npy"), np.float64(2.5))
    np.savez_compressed(out("npy", "compressed.npz"), a=a, b=np.arange(5, dtype=np.int32))


def main():
    which = sys.argv[1:] or ["pt"]
    if "pt" in which:
        gen_pt_and_npy()


if __name__ == "__main__":
    main()
