"""Reference MoH-DiT forward, written from the DiT paper's code as specs/moh.md describes MoH-DiT/models.py
(PatchEmbed, TimestepEmbedder, LabelEmbedder, DiTBlock with adaLN-Zero, FinalLayer, unpatchify, fixed 2-D sin-cos
positions from NumPy float64), never from our C#. Attention is moh_cases.moh_attention_forward.

Settings of a "moh_dit" case: patch, channels, frequency_size, training, blocks (one dict per block: heads, shared,
topk, head_dim, routing).
Inputs: x [B, C, H, W], t [B] (float), y [B] (int64), grad_y [B, C, H, W], and every parameter under its state-dict name.
Outputs: y (epsilon), balance_loss (training with routed heads), grad/<every parameter>, grad/x.
The gradient objective is sum(eps * grad_y) + 0.01 * balance_loss (the mean over blocks with routed heads).
"""
import math

import numpy as np
import torch
import torch.nn.functional as F

import moh_cases
from cases_registry import case, grads_of, leaves


def sincos_1d(embed_dim, pos):
    omega = np.arange(embed_dim // 2, dtype=np.float64) / (embed_dim / 2.0)
    omega = 1.0 / 10000 ** omega
    out = np.einsum("m,d->md", pos.reshape(-1), omega)
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


def sincos_2d(embed_dim, grid_size):
    """DiT's get_2d_sincos_pos_embed: meshgrid(w, h), so the first half encodes the column."""
    grid_h = np.arange(grid_size, dtype=np.float32)
    grid_w = np.arange(grid_size, dtype=np.float32)
    grid = np.stack(np.meshgrid(grid_w, grid_h), axis=0).reshape(2, 1, grid_size, grid_size)
    emb_h = sincos_1d(embed_dim // 2, grid[0])
    emb_w = sincos_1d(embed_dim // 2, grid[1])
    return np.concatenate([emb_h, emb_w], axis=1)


def timestep_embedding(t, dim, max_period=10000):
    half = dim // 2
    freqs = torch.from_numpy(np.exp(-math.log(max_period) * np.arange(half, dtype=np.float64) / half).astype(np.float32))
    args = t[:, None].float() * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def modulate(x, shift, scale):
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


def dit_forward(s, p, x, t, y):
    B, C, H, W = x.shape
    patch = s["patch"]
    side = H // patch
    tokens = F.conv2d(x, p["x_embedder.proj.weight"], p["x_embedder.proj.bias"], stride=patch).flatten(2).transpose(1, 2)
    dim = tokens.shape[-1]
    tokens = tokens + torch.from_numpy(sincos_2d(dim, side)).float().unsqueeze(0)

    t_freq = timestep_embedding(t, s["frequency_size"])
    t_emb = F.linear(F.silu(F.linear(t_freq, p["t_embedder.mlp.0.weight"], p["t_embedder.mlp.0.bias"])),
                     p["t_embedder.mlp.2.weight"], p["t_embedder.mlp.2.bias"])
    y_emb = p["y_embedder.embedding_table.weight"][y]
    c = t_emb + y_emb

    losses = []
    for i, block in enumerate(s["blocks"]):
        pre = f"blocks.{i}."
        mod = F.linear(F.silu(c), p[pre + "adaLN_modulation.1.weight"], p[pre + "adaLN_modulation.1.bias"])
        shift_a, scale_a, gate_a, shift_m, scale_m, gate_m = mod.chunk(6, dim=1)
        attention = {n[len(pre + "attn."):]: v for n, v in p.items() if n.startswith(pre + "attn.")}
        h = modulate(F.layer_norm(tokens, (dim,), eps=1e-6), shift_a, scale_a)
        attended, _, l_aux = moh_cases.moh_attention_forward(dict(block, training=s["training"]), attention, h, None)
        if l_aux is not None:
            losses.append(l_aux)
        tokens = tokens + gate_a.unsqueeze(1) * attended
        h = modulate(F.layer_norm(tokens, (dim,), eps=1e-6), shift_m, scale_m)
        mlp = F.linear(F.gelu(F.linear(h, p[pre + "mlp.fc1.weight"], p[pre + "mlp.fc1.bias"])), p[pre + "mlp.fc2.weight"], p[pre + "mlp.fc2.bias"])
        tokens = tokens + gate_m.unsqueeze(1) * mlp

    shift, scale = F.linear(F.silu(c), p["final_layer.adaLN_modulation.1.weight"], p["final_layer.adaLN_modulation.1.bias"]).chunk(2, dim=1)
    h = modulate(F.layer_norm(tokens, (dim,), eps=1e-6), shift, scale)
    out = F.linear(h, p["final_layer.linear.weight"], p["final_layer.linear.bias"])     # [B, N, p*p*C]

    # unpatchify: [B, h, w, p, p, C] -> [B, C, h*p, w*p]
    out = out.reshape(B, side, side, patch, patch, C)
    out = torch.einsum("nhwpqc->nchpwq", out).reshape(B, C, side * patch, side * patch)
    balance = torch.stack(losses).mean() if losses else None
    return out, balance


@case("moh_dit")
def moh_dit(s, t):
    names = [n for n in t if n not in ("x", "t", "y", "grad_y")]
    p = leaves(t, names + ["x"])
    eps, balance = dit_forward(s, p, p["x"], t["t"], t["y"].long())
    objective = (eps * t["grad_y"]).sum()
    out = {"y": eps}
    if balance is not None:
        objective = objective + moh_cases.BALANCE_COEFFICIENT * balance
        out["balance_loss"] = balance
    out.update(grads_of(objective, p))
    return out
