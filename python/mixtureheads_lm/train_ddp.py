"""Trains the MoH LM with PyTorch DistributedDataParallel on any number of ranks, and writes a checkpoint folder
(model.safetensors + config.json) that .NET loads with CausalLMCheckpoint.Load.

One machine, N ranks (gloo on CPU, nccl on CUDA, one GPU per rank):
    python3 -m mixtureheads_lm.train_ddp --data corpus/ --out ckpt --nproc 2 --preset tiny --steps 200
Several machines: the same command on each, with --nnodes, --node-rank and a reachable --master address:
    python3 -m mixtureheads_lm.train_ddp ... --nnodes 2 --node-rank 0 --master 10.0.0.1:29500 --nproc 8

Ranks are started with torch.multiprocessing.spawn and meet through init_method tcp://<master>; this avoids
torchrun, whose elastic agent fails on Debian's torch 1.13 under Python 3.11. Each rank reads its own share of every
batch (windows r, r + W, r + 2W, ... of one seeded permutation per epoch), DDP averages the gradients, and rank 0
writes the checkpoint and training_log.json.
"""
import argparse
import json
import math
import os
import socket
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

from . import data, safetensors_io
from .checkpoint import save_checkpoint
from .config import LMConfig, read_config_json
from .model import MoHCausalLM, next_token_loss

# The registered .NET sizes moh_lm_tiny_75 / moh_lm_small_75 (CausalLMFamily) and their MH-MoE variants.
PRESETS = {
    "tiny": dict(Dim=96, Depth=4, Heads=4, SharedHeads=1, RoutedTopK=2, MlpRatio=256 / 96, MaxLength=256, MoEInterval=2),
    "small": dict(Dim=192, Depth=6, Heads=8, SharedHeads=2, RoutedTopK=4, MlpRatio=512 / 192, MaxLength=512, MoEInterval=2),
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", nargs="+", required=True, help="text files or folders (a folder with cats.txt is read as the Brown corpus)")
    p.add_argument("--out", required=True, help="checkpoint folder to write (model.safetensors, config.json, training_log.json)")
    p.add_argument("--config", help="a config.json (checkpoint format) to train; overrides --preset")
    p.add_argument("--preset", default="tiny", choices=sorted(PRESETS))
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="config overrides, JSON values, e.g. Depth=2 Routing='\"Dense\"' MoE='{\"Experts\":8,\"ExpertHidden\":64,\"Heads\":2,\"TopK\":2}'")
    p.add_argument("--nproc", type=int, default=1, help="ranks on this machine")
    p.add_argument("--nnodes", type=int, default=1)
    p.add_argument("--node-rank", type=int, default=0)
    p.add_argument("--master", default=None, help="host:port of node 0 (default 127.0.0.1 and a free port; required with --nnodes > 1)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--threads", type=int, default=1, help="torch threads per rank on CPU")
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=8, help="windows per rank per step")
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--min-lr", type=float, default=3e-4)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--validation-fraction", type=float, default=0.05)
    p.add_argument("--eval-batches", type=int, default=20, help="validation windows per rank at the end (batches of --batch-size)")
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save-rank-weights", action="store_true",
                   help="also write initial.safetensors and rank<r>.safetensors (each rank's final weights), to check synchronisation")
    return p.parse_args(argv)


def build_config(args):
    if args.config:
        config = read_config_json(args.config)
        values = config.to_dict()
    else:
        values = dict(PRESETS[args.preset], VocabularySize=data.VOCABULARY_SIZE)
    for item in args.set:
        key, _, text = item.partition("=")
        values[key] = json.loads(text)
    values["MaxLength"] = max(values.get("MaxLength", 0), args.seq_len)
    return LMConfig.from_dict(values, where="--config/--preset/--set")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def learning_rate(step, args):
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    progress = (step - args.warmup) / max(1, args.steps - args.warmup)
    return args.min_lr + 0.5 * (args.lr - args.min_lr) * (1 + math.cos(math.pi * min(1.0, progress)))


def optimizer_for(model, args):
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    other = [p for n, p in model.named_parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": args.weight_decay}, {"params": other, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.95), eps=1e-8)


def evaluate(model, windows, rank, world, batch_size, batches, device):
    """Mean next-token cross-entropy over this rank's share of the validation windows, averaged over ranks."""
    raw = model.module
    raw.eval()
    total = torch.zeros(2, dtype=torch.float64, device=device)
    mine = windows[rank::world][: batches * batch_size]
    with torch.no_grad():
        for i in range(0, mine.shape[0], batch_size):
            batch = mine[i:i + batch_size].to(device)
            _, ce = raw.loss(batch)
            total += torch.tensor([ce.item() * batch.shape[0], batch.shape[0]], dtype=torch.float64, device=device)
    dist.all_reduce(total)
    raw.train()
    return (total[0] / total[1]).item() if total[1] > 0 else float("nan")


def worker(local_rank, args, config, init_method):
    world = args.nnodes * args.nproc
    rank = args.node_rank * args.nproc + local_rank
    use_cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    device = torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    else:
        torch.set_num_threads(args.threads)
    dist.init_process_group("nccl" if use_cuda else "gloo", init_method=init_method, rank=rank, world_size=world)
    try:
        train(rank, world, device, args, config)
    finally:
        dist.destroy_process_group()


def train(rank, world, device, args, config):
    stream = data.encode(data.read_documents(args.data))
    train_stream, validation_stream = data.split(stream, args.validation_fraction)
    train_windows = data.windows(train_stream, args.seq_len)
    validation_windows = data.windows(validation_stream, args.seq_len) if args.validation_fraction > 0 else None

    torch.manual_seed(args.seed)                              # the same initial weights on every rank
    raw = MoHCausalLM(config).to(device)
    if args.save_rank_weights and rank == 0:
        os.makedirs(args.out, exist_ok=True)
        safetensors_io.save_file({k: v.cpu() for k, v in raw.state_dict().items()}, os.path.join(args.out, "initial.safetensors"))
    # Experts a step routes no sub-token to get no gradient on some ranks: find_unused_parameters handles them.
    model = DistributedDataParallel(raw, device_ids=[device.index] if device.type == "cuda" else None,
                                    find_unused_parameters=config.FeedForward == "MultiHeadMoE")
    optimizer = optimizer_for(raw, args)

    if rank == 0:
        print(f"world {world} ({'nccl' if device.type == 'cuda' else 'gloo'}), {raw.num_parameters():,} parameters, "
              f"{train_windows.shape[0]} training windows of {args.seq_len}, batch {args.batch_size} x {world} ranks", flush=True)
    generator = torch.Generator().manual_seed(args.seed)
    order, cursor, epoch = torch.randperm(train_windows.shape[0], generator=generator), 0, 0
    per_step = args.batch_size * world
    first_losses, log, start, tokens = None, [], time.time(), 0
    for step in range(args.steps):
        if cursor + per_step > order.numel():                 # next epoch: a new permutation, the same on every rank
            order, cursor, epoch = torch.randperm(train_windows.shape[0], generator=generator), 0, epoch + 1
            if per_step > order.numel():
                raise ValueError(f"{order.numel()} training windows cannot fill one step of {per_step}")
        chosen = order[cursor:cursor + per_step][rank::world]   # this rank's share of the global batch
        cursor += per_step
        batch = train_windows[chosen].to(device)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, args)
        loss, ce = next_token_loss(model, batch)            # through the DDP wrapper, so its gradient hooks fire
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if args.clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        optimizer.step()
        tokens += batch.shape[0] * args.seq_len * world
        if first_losses is None:
            gathered = [None] * world
            dist.all_gather_object(gathered, ce.item())
            first_losses = gathered
        if rank == 0 and (step % args.log_every == 0 or step == args.steps - 1):
            elapsed = time.time() - start
            entry = {"step": step + 1, "loss": round(ce.item(), 4), "lr": learning_rate(step, args), "tokens_per_s": round(tokens / elapsed, 1)}
            log.append(entry)
            print(f"step {step + 1}/{args.steps} loss {ce.item():.4f} lr {entry['lr']:.2e} {entry['tokens_per_s']:.0f} tokens/s", flush=True)

    validation_loss = None
    if validation_windows is not None:
        validation_loss = evaluate(model, validation_windows, rank, world, args.batch_size, args.eval_batches, device)
    if args.save_rank_weights:
        os.makedirs(args.out, exist_ok=True)
        safetensors_io.save_file({k: v.cpu() for k, v in raw.state_dict().items()}, os.path.join(args.out, f"rank{rank}.safetensors"))
    dist.barrier()
    if rank == 0:
        elapsed = time.time() - start
        save_checkpoint(raw, args.out)
        summary = {"world_size": world, "backend": "nccl" if device.type == "cuda" else "gloo", "steps": args.steps,
                   "epochs_started": epoch + 1, "parameters": raw.num_parameters(), "seconds": round(elapsed, 2),
                   "tokens_per_s": round(tokens / elapsed, 1), "first_step_loss_per_rank": first_losses,
                   "validation_loss": validation_loss,
                   "validation_perplexity": math.exp(validation_loss) if validation_loss is not None else None, "log": log}
        with open(os.path.join(args.out, "training_log.json"), "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=2)
        ppl = f", validation perplexity {summary['validation_perplexity']:.2f}" if validation_loss is not None else ""
        print(f"done: {args.steps} steps in {elapsed:.1f} s, {summary['tokens_per_s']:.0f} tokens/s{ppl}; wrote {args.out}", flush=True)


def main(argv=None):
    args = parse_args(argv)
    for name in ("nproc", "nnodes", "threads", "seq_len", "batch_size", "steps"):
        if getattr(args, name) < 1:
            raise SystemExit(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if not 0 <= args.node_rank < args.nnodes:
        raise SystemExit(f"--node-rank must lie in [0, --nnodes={args.nnodes}), got {args.node_rank}")
    if not 0 <= args.validation_fraction < 1:
        raise SystemExit(f"--validation-fraction must lie in [0, 1), got {args.validation_fraction}")
    config = build_config(args)
    if args.nnodes > 1 and not args.master:
        raise SystemExit("--master host:port is required with --nnodes > 1")
    init_method = f"tcp://{args.master}" if args.master else f"tcp://127.0.0.1:{free_port()}"
    mp.spawn(worker, args=(args, config, init_method), nprocs=args.nproc, join=True)


if __name__ == "__main__":
    main()
