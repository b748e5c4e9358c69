"""Helpers shared by the tests: the package on sys.path, temporary run directories, reading runs back."""
import json
import os
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE_ROOT = os.path.dirname(HERE)
REPO_ROOT = os.path.dirname(PACKAGE_ROOT)
if PACKAGE_ROOT not in sys.path:
    sys.path.insert(0, PACKAGE_ROOT)

import torch  # noqa: E402

import gatescope  # noqa: E402,F401

torch.set_num_threads(1)


class RunDirCase(unittest.TestCase):
    """A TestCase with a fresh temporary directory in self.tmp."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="gatescope-py-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def run_dir(self, name="run"):
        return os.path.join(self.tmp, name)


def read_events(run_dir):
    with open(os.path.join(run_dir, "events.jsonl"), encoding="utf-8") as f:
        text = f.read()
    assert text.endswith("\n"), "events.jsonl must end with a newline"
    return [json.loads(line) for line in text.splitlines()]


def max_err(a, b):
    return (a.detach().double() - b.detach().double()).abs().max().item()
