"""One rank of test_distributed's 2-process run (started by torch.distributed.run; not a test module itself).

usage: dist_worker.py RUN_DIR CHECK_DIR
Trains a small embedding + LSTM + Linear model with DistributedDataParallel on gloo for 8 steps; the
ranks log at different rates, and every second step both log with sync=True. Each rank writes what it
saw to CHECK_DIR/rank<r>.json for the test to compare with what rank 0 recorded in RUN_DIR.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
import torch.nn as nn  # noqa: E402
from torch.nn.parallel import DistributedDataParallel  # noqa: E402

import gatescope  # noqa: E402

run_dir, check_dir = sys.argv[1], sys.argv[2]
torch.set_num_threads(1)
# Opened before the process group exists, as scripts often do: the rank comes from torchrun's RANK.
run = gatescope.Run(run_dir, every=4, config={"world": int(os.environ["WORLD_SIZE"])})
dist.init_process_group("gloo")
rank = dist.get_rank()
assert run.rank == rank and run.is_writer == (rank == 0)


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(5, 4)
        self.lstm = nn.LSTM(4, 6, batch_first=True)
        self.fc = nn.Linear(6, 5)

    def forward(self, tokens):
        out, _ = self.lstm(self.emb(tokens))
        return self.fc(out)


torch.manual_seed(0)
model = DistributedDataParallel(Model())
run.watch(model.module.lstm, name="lstm")
run.probe("abcab", vocab="abcde", embedding=model.module.emb)
opt = torch.optim.SGD(model.parameters(), lr=0.5)
seen = {"losses": {}, "synced": {}}
for step in range(1, 9):
    g = torch.Generator().manual_seed(100 * step + rank)  # each rank its own shard
    tokens = torch.randint(0, 5, (3, 7), generator=g)
    logits = model(tokens[:, :-1])
    loss = nn.functional.cross_entropy(logits.reshape(-1, 5), tokens[:, 1:].reshape(-1))
    opt.zero_grad()
    loss.backward()
    opt.step()
    seen["losses"][step] = loss.item()
    run.log(step, loss=loss.item(), who=rank)  # rank 0's value only, no communication
    if rank == 1:
        for _ in range(3):
            run.log(step, extra=1.0)  # ranks log at different rates: nothing waits for anything
    if step % 2 == 0:
        run.log(step, sync=True, mean_rank=float(rank), loss_mean=loss.detach())
        seen["synced"][step] = True
run.epoch_end()
run.close()
seen["final_weight_hh_l0"] = model.module.lstm.weight_hh_l0.detach().double().sum().item()
with open(os.path.join(check_dir, f"rank{rank}.json"), "w") as f:
    json.dump(seen, f)
dist.destroy_process_group()
