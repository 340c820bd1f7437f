"""PyTorch peer for the `vit` benchmark suite: a dense ViT of moh_vit_tiny_100's shape (conv stem 1 -> 32 -> 64 -> 128
to 7x7 tokens, optionally with batch normalisation, --depth pre-norm blocks of width 128, 8 heads, MLP 256, mean
pooling) trained on Fashion-MNIST with our image trainer's recipe (AdamW, weight decay on matrices only, linear warmup
then cosine to 1% per step, label smoothing, gradient clipping, horizontal flip unless --no-flip), in fp32 or with
--precision bf16 under CPU autocast (convolutions and matrix products in bf16, fp32 weights and optimizer), then
scored in fp32 on the 10,000 test images.

    /usr/bin/python3 bench_vit.py --threads N --epochs E --seed S [--quick] [--stem-norm none|batch] [--no-flip] [--depth D]
                                  [--precision fp32|bf16]

Prints one JSON object: test accuracy after each epoch, training wall seconds (without the test passes) and images/s.
"""
import argparse
import gzip
import json
import math
import os
import sys
import time

# Debian's torch multiplies through OpenBLAS, which ignores torch.set_num_threads: pin it before torch loads.
if "--threads" in sys.argv:
    os.environ["OPENBLAS_NUM_THREADS"] = sys.argv[sys.argv.index("--threads") + 1]

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

DATA = "/usr/share/datasets/fashion-mnist"


def read(split):
    with gzip.open(f"{DATA}/{split}-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    with gzip.open(f"{DATA}/{split}-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    return torch.from_numpy(images.astype(np.float32)), torch.from_numpy(labels.astype(np.int64))


class Block(nn.Module):
    def __init__(self, dim, heads, mlp):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(dim, eps=1e-6), nn.LayerNorm(dim, eps=1e-6)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.fc1, self.fc2 = nn.Linear(dim, mlp), nn.Linear(mlp, dim)

    def forward(self, x):                                   # [B, N, C]
        b, n, c = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        attn = (q @ k.transpose(-2, -1) * (c // self.heads) ** -0.5).softmax(-1)   # torch 1.13 has no fused attention
        x = x + self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class ViT(nn.Module):
    def __init__(self, dim=128, heads=8, depth=4, mlp=256, stem_norm="none"):
        super().__init__()
        widths = [1, dim // 4, dim // 2, dim]
        self.stem = nn.ModuleList([nn.Conv2d(widths[i], widths[i + 1], 3, 1 if i == 0 else 2, 1) for i in range(3)])
        self.stem_norms = nn.ModuleList([nn.BatchNorm2d(w) for w in widths[1:3]]) if stem_norm == "batch" else None
        self.pos = nn.Parameter(torch.zeros(1, 49, dim))
        nn.init.trunc_normal_(self.pos, std=0.02)
        self.blocks = nn.ModuleList([Block(dim, heads, mlp) for _ in range(depth)])
        self.norm, self.head = nn.LayerNorm(dim, eps=1e-6), nn.Linear(dim, 10)
        nn.init.trunc_normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)

    def forward(self, images):
        x = (images / 255 - 0.5) / 0.5
        for i, conv in enumerate(self.stem):
            x = conv(x)
            if i < len(self.stem) - 1:
                if self.stem_norms is not None:
                    x = self.stem_norms[i](x)
                x = F.gelu(x)
        x = x.flatten(2).transpose(1, 2) + self.pos          # [B, 49, C]
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x).mean(1))


def accuracy(model, images, labels):
    model.eval()
    with torch.no_grad():
        correct = sum((model(images[i:i + 500]).argmax(1) == labels[i:i + 500]).sum().item() for i in range(0, len(labels), 500))
    model.train()
    return correct / len(labels)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--warmup", type=float, default=0.3, help="warmup epochs")
    parser.add_argument("--no-flip", action="store_true")
    parser.add_argument("--stem-norm", default="none", choices=["none", "batch"])
    parser.add_argument("--train-images", type=int, default=60000)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    train_x, train_y = read("train")
    test_x, test_y = read("t10k")
    train_x, train_y = train_x[:args.train_images], train_y[:args.train_images]
    if args.quick:
        train_x, train_y, test_x, test_y = train_x[:3000], train_y[:3000], test_x[:1000], test_y[:1000]
    model = ViT(depth=args.depth, stem_norm=args.stem_norm)
    decay = [p for p in model.parameters() if p.dim() >= 2 and p is not model.pos]
    rest = [p for p in model.parameters() if p.dim() < 2 or p is model.pos]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": rest, "weight_decay": 0.0}], lr=args.lr)
    steps_per_epoch = math.ceil(len(train_y) / args.batch)
    total, warmup = steps_per_epoch * args.epochs, max(1, round(args.warmup * steps_per_epoch))

    def rate(step):
        if step < warmup:
            return args.lr * (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return args.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress)))

    step, train_seconds, epochs = 0, 0.0, []
    for epoch in range(args.epochs):
        start = time.perf_counter()
        order = torch.randperm(len(train_y))
        for first in range(0, len(train_y), args.batch):
            index = order[first:first + args.batch]
            images, labels = train_x[index], train_y[index]
            if not args.no_flip:
                flip = torch.rand(len(index)) < 0.5
                images = torch.where(flip.view(-1, 1, 1, 1), images.flip(3), images)
            for group in optimizer.param_groups:
                group["lr"] = rate(step)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.precision == "bf16"):
                logits = model(images)
            loss = F.cross_entropy(logits.float(), labels, label_smoothing=0.1)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            step += 1
        train_seconds += time.perf_counter() - start
        epochs.append(accuracy(model, test_x, test_y))
        print(f"epoch {epoch + 1}: test accuracy {epochs[-1]:.4f}, {train_seconds:.0f} s", file=sys.stderr, flush=True)
    print(json.dumps({"epoch_accuracy": epochs, "accuracy": epochs[-1], "train_seconds": train_seconds,
                      "images_per_second": len(train_y) * args.epochs / train_seconds, "seed": args.seed,
                      "precision": args.precision}))


if __name__ == "__main__":
    main()
