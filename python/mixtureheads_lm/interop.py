"""Command-line checks of checkpoints exchanged with .NET (used by the .NET test suite, handy by hand):

    python3 -m mixtureheads_lm.interop logits <checkpoint folder> <tokens.safetensors> <out.safetensors>
        loads the folder, runs the model in eval mode on tensor "tokens" [B, T] (int64), writes "logits" [B, T, V].
    python3 -m mixtureheads_lm.interop init <config.json> <seed> <checkpoint folder> [--spread]
        builds a freshly initialised model from a config.json (the checkpoint format), seeded, and saves it; with
        --spread the weights are redrawn at a scale where routing decisions have wide margins (N(0, 1/fan_in)
        projections, N(1, 0.1) norms, N(0, 0.1) biases, N(0, 1) embeddings).
    python3 -m mixtureheads_lm.interop batch <jobs.json>
        runs a JSON list of jobs in one process, in order: {"op": "logits", "folder", "tokens", "out"} or
        {"op": "init", "config", "seed", "folder", "spread"}; the first failure stops it, naming the job.
"""
import json
import sys

import torch

from . import safetensors_io
from .checkpoint import load_checkpoint, save_checkpoint
from .config import read_config_json
from .model import MoHCausalLM


def logits(folder, tokens_path, out_path):
    model = load_checkpoint(folder)
    tokens = safetensors_io.load_file(tokens_path)["tokens"]
    with torch.no_grad():
        out, _ = model(tokens)
    safetensors_io.save_file({"logits": out.contiguous()}, out_path)


def spread_(model):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                p.normal_(0, p.shape[1] ** -0.5)
            elif "norm" in name:
                p.normal_(1, 0.1)
            else:
                p.normal_(0, 0.1)
        model.tok_embeddings.weight.normal_(0, 1)


def init(config_path, seed, folder, spread=False):
    torch.manual_seed(int(seed))
    model = MoHCausalLM(read_config_json(config_path))
    if spread:
        spread_(model)
    save_checkpoint(model, folder)


def batch(jobs_path):
    with open(jobs_path, encoding="utf-8") as f:
        jobs = json.load(f)
    for i, job in enumerate(jobs):
        try:
            if job["op"] == "logits":
                logits(job["folder"], job["tokens"], job["out"])
            elif job["op"] == "init":
                init(job["config"], job["seed"], job["folder"], spread=bool(job.get("spread", False)))
            else:
                raise ValueError(f"unknown op {job['op']!r}")
        except Exception as e:
            raise RuntimeError(f"{jobs_path}: job {i} ({job.get('op')}, {job.get('folder')}) failed: {e}") from e


def main(argv):
    torch.set_num_threads(1)
    if len(argv) == 2 and argv[0] == "batch":
        batch(argv[1])
    elif len(argv) == 4 and argv[0] == "logits":
        logits(*argv[1:])
    elif len(argv) in (4, 5) and argv[0] == "init" and argv[4:] in ([], ["--spread"]):
        init(argv[1], argv[2], argv[3], spread=len(argv) == 5)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
