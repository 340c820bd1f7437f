"""PyTorch baseline for the `contention` benchmark suite: training images/s of a dense ViT the shape of
moh_vit_tiny_75 (conv stem 1 -> 32 -> 64 -> 128 to 7x7 tokens, 4 pre-norm blocks of width 128, 8 heads, MLP 256),
one batch of 128 Fashion-MNIST-sized images, AdamW, fp32.

    /usr/bin/python3 bench_contention.py --threads N --steps S

Prints one JSON object. The C# suite runs it alone and next to a busy-loop process, with the environment it chooses
(OMP_WAIT_POLICY), so PyTorch's OpenMP (libgomp, like libtorch's) is measured under the same load as ours.
"""
import argparse
import json
import os
import sys
import time

# Debian's torch multiplies through OpenBLAS, which ignores torch.set_num_threads: pin it before torch loads.
if "--threads" in sys.argv:
    os.environ["OPENBLAS_NUM_THREADS"] = sys.argv[sys.argv.index("--threads") + 1]

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

DIM, HEADS, DEPTH, MLP = 128, 8, 4, 256


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(DIM), nn.LayerNorm(DIM)
        self.qkv, self.proj = nn.Linear(DIM, 3 * DIM), nn.Linear(DIM, DIM)
        self.fc1, self.fc2 = nn.Linear(DIM, MLP), nn.Linear(MLP, DIM)

    def forward(self, x):                                   # [B, N, C]
        b, n, c = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, n, 3, HEADS, c // HEADS).permute(2, 0, 3, 1, 4)
        attn = (q @ k.transpose(-2, -1) * (c // HEADS) ** -0.5).softmax(-1)   # torch 1.13 has no fused attention
        x = x + self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class ViT(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.ModuleList([nn.Conv2d(1, 32, 3, 1, 1), nn.Conv2d(32, 64, 3, 2, 1), nn.Conv2d(64, DIM, 3, 2, 1)])
        self.pos = nn.Parameter(torch.zeros(1, 49, DIM))
        self.blocks = nn.ModuleList([Block() for _ in range(DEPTH)])
        self.norm, self.head = nn.LayerNorm(DIM), nn.Linear(DIM, 10)

    def forward(self, images):
        x = images
        for i, conv in enumerate(self.stem):
            x = conv(x)
            if i < len(self.stem) - 1:
                x = F.gelu(x)
        x = x.flatten(2).transpose(1, 2) + self.pos          # [B, 49, C]
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x).mean(1))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = ViT()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.05)
    images, labels = torch.rand(128, 1, 28, 28) * 255, torch.randint(0, 10, (128,))

    def step():
        loss = F.cross_entropy(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    step()
    step()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    print(json.dumps({"images_per_second": args.steps * 128 / (time.perf_counter() - start), "torch": torch.__version__}))


if __name__ == "__main__":
    main()
