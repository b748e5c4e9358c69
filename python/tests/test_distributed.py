"""A 2-process torch.distributed run on CPU (gloo), started with torch.distributed.run (torchrun)."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

import torch

from _util import HERE, read_events

import gatescope


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@unittest.skipUnless(torch.distributed.is_available() and torch.distributed.is_gloo_available(), "torch.distributed with gloo is not available")
class TorchrunOnCpu(unittest.TestCase):
    def test_only_rank_0_writes_and_nothing_waits(self):
        tmp = tempfile.mkdtemp(prefix="gatescope-dist-")
        self.addCleanup(shutil.rmtree, tmp, True)
        run_dir, check_dir = os.path.join(tmp, "run"), os.path.join(tmp, "check")
        os.makedirs(check_dir)
        env = dict(os.environ, OMP_NUM_THREADS="1")
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", "2",
               "--master_addr", "127.0.0.1", "--master_port", str(free_port()), "--max_restarts", "0", "--monitor_interval", "0.5",
               # torch 1.13 under Python 3.11 cannot parse the default "0" of these two (IntFlag no
               # longer iterates its zero member), so give them "1": stdout to a log file and the console
               "--redirects", "1", "--tee", "1", "--log_dir", os.path.join(tmp, "logs"),
               os.path.join(HERE, "dist_worker.py"), run_dir, check_dir]
        try:
            p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120, text=True)
        except subprocess.TimeoutExpired as e:  # a deadlock
            self.fail(f"torchrun did not finish in 120 s:\n{e.output}")
        self.assertEqual(p.returncode, 0, p.stdout)
        ranks = []
        for r in (0, 1):
            with open(os.path.join(check_dir, f"rank{r}.json")) as f:
                ranks.append(json.load(f))
        events = read_events(run_dir)
        self.assertEqual([e["kind"] for e in events if e["kind"] in ("start", "end")], ["start", "end"])
        self.assertEqual((events[0]["rank"], events[0]["world_size"]), (0, 2))
        self.assertEqual(events[0]["config"], {"world": 2})
        scalars = [e for e in events if e["kind"] == "scalar"]
        self.assertFalse([e for e in scalars if "extra" in e], "rank 1's own logs are not written")
        plain = [e for e in scalars if "who" in e]
        self.assertEqual([e["step"] for e in plain], list(range(1, 9)))
        self.assertTrue(all(e["who"] == 0 for e in plain))
        self.assertEqual([e["loss"] for e in plain], [ranks[0]["losses"][str(s)] for s in range(1, 9)])
        synced = [e for e in scalars if "mean_rank" in e]
        self.assertEqual([e["step"] for e in synced], [2, 4, 6, 8])
        for e in synced:
            self.assertEqual(e["mean_rank"], 0.5)
            want = (ranks[0]["losses"][str(e["step"])] + ranks[1]["losses"][str(e["step"])]) / 2
            self.assertAlmostEqual(e["loss_mean"], want, places=6)
        tags = [e["tag"] for e in events if e["kind"] == "snapshot"]
        self.assertEqual(tags, ["step4", "step8", "epoch1"])
        self.assertEqual(sorted(os.listdir(run_dir)), ["events.jsonl", "probes", "snapshots"])
        self.assertEqual(sorted(os.listdir(os.path.join(run_dir, "probes"))), [f"{t}.safetensors" for t in sorted(tags)])
        w, _ = gatescope.load_safetensors(os.path.join(run_dir, "snapshots", "epoch1.safetensors"))
        total = w["lstm.weight_hh_l0"].double().sum().item()
        for r in ranks:  # DDP keeps the replicas equal; rank 0 recorded the weights every rank has
            self.assertAlmostEqual(total, r["final_weight_hh_l0"], places=9)


if __name__ == "__main__":
    unittest.main()
