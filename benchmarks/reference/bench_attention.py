"""PyTorch baseline for the `attention` benchmark suite: forward inference of dense multi-head attention and of MoH
attention computed the official way (every head, then the gates), at the shapes the C# suite measures.

    /usr/bin/python3 bench_attention.py --threads N [--quick]

Prints one JSON object. Debian's python3-torch is 1.13, which has no fused attention kernel, so attention is written
out as the official MoH code and timm's Attention of that era do: softmax(q k^T * scale) v.
"""
import argparse
import json
import os
import sys
import time

# Debian's torch multiplies through OpenBLAS (pthreads build), which ignores torch.set_num_threads and uses every
# core (measured: 2 threads with set_num_threads(1)). Pin it to --threads before torch loads.
if "--threads" in sys.argv:
    os.environ["OPENBLAS_NUM_THREADS"] = sys.argv[sys.argv.index("--threads") + 1]

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

DIM, HEADS, HEAD_DIM = 512, 8, 64
SHAPES = [(64, 64), (256, 16), (1024, 4)]          # (tokens, batch): 4096 tokens per call
SPLITS = [(2, 2), (2, 4)]                          # (shared heads, top-k of the 6 routed): 50% and 75% of heads


class Attention(nn.Module):
    """Dense MHA, or MoH with learned routers as in MoH-ViT/attention.py (shared_head, routed_head = top-k)."""

    def __init__(self, shared_head=0, routed_head=0):
        super().__init__()
        self.shared_head, self.routed_head = shared_head, routed_head
        self.qkv = nn.Linear(DIM, 3 * DIM)
        self.proj = nn.Linear(DIM, DIM)
        if routed_head > 0:
            self.wg = nn.Linear(DIM, HEADS - shared_head, bias=False)
            if shared_head > 0:
                self.wg_0 = nn.Linear(DIM, 2, bias=False)
        if shared_head > 1:
            self.wg_1 = nn.Linear(DIM, shared_head, bias=False)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def gates(self, x):
        B, N, C = x.shape
        _x = x.reshape(B * N, C)
        E = HEADS - self.shared_head
        g = F.softmax(self.wg(_x), dim=1)
        idx = torch.topk(g, k=self.routed_head, dim=1).indices
        mask = F.one_hot(idx, num_classes=E).sum(dim=1)
        rg = g * mask
        rg = (rg / rg.sum(dim=1, keepdim=True).clamp(min=torch.finfo(rg.dtype).eps)).reshape(B, N, E) * self.routed_head
        if self.shared_head > 1:
            sg = F.softmax(self.wg_1(_x), dim=1).reshape(B, N, self.shared_head) * self.shared_head
        else:
            sg = torch.ones(B, N, 1)
        w0 = F.softmax(self.wg_0(_x), dim=1).reshape(B, N, 2) * 2
        sg = torch.einsum("bn,bne->bne", w0[:, :, 0], sg)
        rg = torch.einsum("bn,bne->bne", w0[:, :, 1], rg)
        return torch.cat([sg, rg], dim=2)

    def forward(self, x):
        B, N, C = x.shape
        q, k, v = self.qkv(x).reshape(B, N, 3, HEADS, HEAD_DIM).permute(2, 0, 3, 1, 4)
        attn = ((q @ k.transpose(-2, -1)) * HEAD_DIM ** -0.5).softmax(dim=-1)
        o = (attn @ v).transpose(1, 2)                                                  # [B, N, H, D]
        if self.routed_head > 0:
            o = torch.einsum("bne,bned->bned", self.gates(x), o)
        return self.proj(o.reshape(B, N, C))


def median_ms(fn, warmup, iterations):
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(iterations):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000.0)
    samples.sort()
    return samples[len(samples) // 2]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    warmup, iterations = (1, 3) if args.quick else (2, 7)
    shapes = SHAPES[-1:] if args.quick else SHAPES
    results = []
    with torch.no_grad():
        dense = Attention().eval()
        for tokens, batch in shapes:
            x = torch.randn(batch, tokens, DIM)
            dense_ms = median_ms(lambda: dense(x), warmup, iterations)
            for shared, top_k in SPLITS:
                moh = Attention(shared, top_k).eval()
                results.append({
                    "tokens": tokens, "batch": batch, "shared": shared, "top_k": top_k,
                    "dense_ms": dense_ms, "moh_masked_ms": median_ms(lambda: moh(x), warmup, iterations),
                })
    print(json.dumps({"torch": torch.__version__, "threads": args.threads, "results": results}))


if __name__ == "__main__":
    main()
