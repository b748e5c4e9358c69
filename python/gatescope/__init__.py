"""gatescope: record a PyTorch training run (weights, probe traces of every gate, scalars) for gatescope's views.

    import gatescope
    with gatescope.Run("runs/char-lstm", every=100) as run:
        run.watch(model.lstm, name="lstm")
        run.probe("To be, or not to be", vocab=stoi, embedding=model.embedding)
        for step, batch in enumerate(batches, 1):
            ...
            run.log(step, loss=loss.item())

The run directory's format is described in python/README.md.
"""
from ._run import FORMAT_VERSION, Run, __version__, current_rank, current_world_size
from ._safetensors import load as load_safetensors
from ._safetensors import write_atomic as save_safetensors
from ._trace import recompute
from ._watch import Param

__all__ = ["Run", "Param", "recompute", "load_safetensors", "save_safetensors", "current_rank",
           "current_world_size", "FORMAT_VERSION", "__version__"]
