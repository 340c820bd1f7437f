"""PyTorch baseline for the `moe` benchmark suite: the same layers in idiomatic eager PyTorch.

    /usr/bin/python3 bench_moe.py --threads N [--quick] --tokens T --warmup W --rounds R --layers JSON

Prints one JSON object: {"torch": version, "threads": N, "milliseconds": [median wall-clock fwd+bwd ms per layer],
"cpu_milliseconds": [median process CPU ms per layer]}, layers in the order given.
MoE layers follow specs/mhmoe.md: head projection, split into h sub-tokens, fp32 router, softmax then top-k (raw
probabilities), experts run one by one on their index_select-ed rows and index_add_-ed back, merge, merge projection,
GShard balance loss. Dense layer: a SwiGLU FFN.
"""
import argparse
import json
import os
import statistics
import sys
import time


def thread_count():
    """--threads, read before torch loads: Debian's torch multiplies matrices in OpenBLAS, whose own thread pool
    torch.set_num_threads does not govern."""
    return sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv else "1"


for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = thread_count()
# OpenMP threads that spin between ops starve OpenBLAS's own threads: measured 1.6 s instead of 0.12 s a step at 2 threads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402  (after the thread variables)
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

BALANCE_WEIGHT = 0.01
BATCH = 8


class SwiGLU(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden, bias=False)
        self.fc2 = nn.Linear(hidden, dim, bias=False)
        self.fc3 = nn.Linear(dim, hidden, bias=False)

    def forward(self, x):
        return self.fc2(self.fc1(x) * F.silu(self.fc3(x)))


class MultiHeadMoE(nn.Module):
    def __init__(self, dim, heads, experts, top_k, hidden, head_projections):
        super().__init__()
        self.dim, self.heads, self.n_experts, self.top_k = dim, heads, experts, top_k
        self.multi_heads = nn.Linear(dim, dim) if head_projections else None
        self.out_proj = nn.Linear(dim, dim) if head_projections else None
        self.wg = nn.Linear(dim // heads, experts, bias=False)
        self.experts = nn.ModuleList(SwiGLU(dim // heads, hidden) for _ in range(experts))

    def forward(self, x):
        tokens = x.reshape(-1, self.dim)
        if self.multi_heads is not None:
            tokens = self.multi_heads(tokens)
        sub = tokens.reshape(-1, self.dim // self.heads)                           # [S, d/h]
        probs = torch.softmax(self.wg(sub.float()), dim=-1)                         # [S, E]
        gates, chosen = probs.topk(self.top_k, dim=-1)                              # [S, k]
        expert_of = chosen.reshape(-1)
        order = expert_of.argsort()
        token_of = torch.arange(sub.shape[0]).repeat_interleave(self.top_k)[order]
        counts = torch.bincount(expert_of, minlength=self.n_experts).tolist()
        rows = sub.index_select(0, token_of).split(counts)
        outputs = torch.cat([self.experts[e](rows[e]) for e in range(self.n_experts) if counts[e] > 0])
        weighted = outputs * gates.reshape(-1)[order].unsqueeze(1).to(outputs.dtype)
        combined = torch.zeros_like(sub).index_add_(0, token_of, weighted)
        merged = combined.reshape(-1, self.dim)
        if self.out_proj is not None:
            merged = self.out_proj(merged)
        first = torch.bincount(chosen[:, 0], minlength=self.n_experts).float() / sub.shape[0]
        balance = self.n_experts * (probs.mean(dim=0) * first).sum()
        return merged.reshape(x.shape), balance


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--tokens", type=int, default=4096)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--layers", required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)

    layers = json.loads(args.layers)
    dim = layers[0]["dim"]
    x = torch.randn(BATCH, args.tokens // BATCH, dim, requires_grad=True)
    upstream = torch.randn(BATCH, args.tokens // BATCH, dim)

    def step_of(layer):
        if layer["experts"] == 0:
            dense = SwiGLU(layer["dim"], layer["hidden"])
            return lambda: (dense(x) * upstream).sum().backward()
        moe = MultiHeadMoE(layer["dim"], layer["heads"], layer["experts"], layer["top_k"], layer["hidden"], layer["head_projections"])

        def step():
            y, balance = moe(x)
            ((y * upstream).sum() + BALANCE_WEIGHT * balance).backward()
        return step

    steps = [step_of(layer) for layer in layers]
    for step in steps:
        for _ in range(args.warmup):
            step()
    wall = [[] for _ in steps]
    cpu = [[] for _ in steps]
    for _ in range(args.rounds):
        for i, step in enumerate(steps):
            cpu_start, start = time.process_time(), time.perf_counter()
            step()
            wall[i].append((time.perf_counter() - start) * 1000)
            cpu[i].append((time.process_time() - cpu_start) * 1000)
    print(json.dumps({"torch": torch.__version__, "threads": args.threads,
                      "milliseconds": [statistics.median(s) for s in wall],
                      "cpu_milliseconds": [statistics.median(s) for s in cpu]}))


if __name__ == "__main__":
    main()
