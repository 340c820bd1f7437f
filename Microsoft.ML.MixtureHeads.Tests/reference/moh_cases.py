"""Reference MoH attention, written from specs/moh.md (sections 2, 3, 7 and "Decisions for this project") in the
style of the official ViT/DiT/LLaMA3 code, never from our C#. PyTorch 1.13 has no fused attention kernel, so
attention is written out by hand.

Settings of a "moh_attention" case:
    heads, shared, topk, head_dim, routing ("dense" | "learned" | "parameter_free"), two_stage (learned routing with
    shared and routed heads: whether wg_0 mixes the groups; false is the paper's Table 5 ablation), causal, training,
    rotary (bool), rotary_theta.
Inputs: x [B, N, C], grad_y [B, N, C], optional key_padding [B, N] (1 = real token), and every parameter under its
state-dict name (qkv.weight, qkv.bias, proj.weight, proj.bias, wg.weight, wg_0.weight, wg_1.weight).
Outputs: y, gates [B, N, H], balance_loss (training with routed heads), grad/<every input but grad_y>.
The gradient objective is sum(y * grad_y) + 0.01 * balance_loss.
"""
import math

import torch
import torch.nn.functional as F

from cases_registry import case, grads_of, leaves

EPS = torch.finfo(torch.float32).eps
BALANCE_COEFFICIENT = 0.01
PARAMETER_NAMES = ["qkv.weight", "qkv.bias", "proj.weight", "proj.bias", "wg.weight", "wg_0.weight", "wg_1.weight"]


class SelectedHeadGate(torch.autograd.Function):
    """MoH-LLaMA3 straight-through gate: forward the 0/1 selection, backward dL/dgate into the real-valued score,
    for the selected heads only."""

    @staticmethod
    def forward(ctx, scores, selection):
        ctx.save_for_backward(selection)
        return selection.clone()

    @staticmethod
    def backward(ctx, grad_gate):
        (selection,) = ctx.saved_tensors
        return grad_gate * selection, None


def balance_loss(probs, selection, real_tokens):
    """l_aux = mean(me * ce) * E * E over the (real) tokens, as in the official code."""
    if real_tokens is not None:
        keep = real_tokens.reshape(-1).bool()
        probs, selection = probs[keep], selection[keep]
    num_routed = probs.shape[1]
    me = probs.mean(0)
    ce = selection.float().mean(0)
    return torch.mean(me * ce) * num_routed * num_routed


def learned_gates(s, p, x_flat, B, N, real_tokens, training):
    """Official ViT/DiT MoHAttention gates: returns ([B, N, H], l_aux or None)."""
    shared, top_k, heads = s["shared"], s["topk"], s["heads"]
    routed_pool = heads - shared
    l_aux = None
    routed_gates = None
    if top_k > 0:
        gates = F.softmax(F.linear(x_flat, p["wg.weight"]), dim=1)                    # [B*N, E]
        indices = torch.topk(gates, k=top_k, dim=1).indices
        mask = F.one_hot(indices, num_classes=routed_pool).sum(dim=1)                  # [B*N, E] of 0/1
        routed_gates = gates * mask
        denom = routed_gates.sum(dim=1, keepdim=True).clamp(min=EPS)
        routed_gates = (routed_gates / denom).reshape(B, N, routed_pool) * top_k
        if training:
            l_aux = balance_loss(gates, mask, real_tokens)
    shared_gates = None
    if shared > 1:
        shared_gates = F.softmax(F.linear(x_flat, p["wg_1.weight"]), dim=1).reshape(B, N, shared) * shared
    elif shared == 1:
        shared_gates = torch.ones(B, N, 1)
    if top_k > 0 and shared > 0 and not s.get("two_stage", True):
        return torch.cat([shared_gates, routed_gates], dim=2), l_aux              # the paper's ablation: no wg_0
    if top_k > 0 and shared > 0:
        w0 = F.softmax(F.linear(x_flat, p["wg_0.weight"]), dim=1).reshape(B, N, 2) * 2
        shared_gates = torch.einsum("bn,bne->bne", w0[:, :, 0], shared_gates)
        routed_gates = torch.einsum("bn,bne->bne", w0[:, :, 1], routed_gates)
        return torch.cat([shared_gates, routed_gates], dim=2), l_aux
    return (routed_gates if top_k > 0 else shared_gates), l_aux


def parameter_free_gates(s, q, B, N, real_tokens, training):
    """MoH-LLaMA3 router on the pre-rotary queries q [B, H, N, D]: binary gates, STE to the softmax scores."""
    shared, top_k, heads = s["shared"], s["topk"], s["heads"]
    q_tokens = q.permute(0, 2, 1, 3).reshape(B * N, heads, -1)                        # [T, H, D]
    logits = torch.stack([torch.norm(q_tokens[:, i, :], p=2, dim=-1) for i in range(shared, heads)], dim=1)  # [T, E]
    spread = logits.std(dim=1, keepdim=True)                                           # unbiased, like the official code
    spread = torch.where(spread > EPS, spread, torch.full_like(spread, EPS))           # project decision: no 0/0
    scores = F.softmax(logits / spread, dim=1)
    indices = torch.topk(scores, k=top_k, dim=1).indices
    selection = F.one_hot(indices, num_classes=heads - shared).sum(dim=1).to(scores.dtype)
    routed = SelectedHeadGate.apply(scores, selection)
    gates = torch.cat([torch.ones(B * N, shared), routed], dim=-1).reshape(B, N, heads)
    l_aux = balance_loss(scores, selection, real_tokens) if training else None
    return gates, l_aux


def rotate(x, theta):
    """Rotate-half RoPE (LLaMA / Hugging Face) over positions 0..N-1 of x [B, H, N, D]."""
    n, d = x.shape[-2], x.shape[-1]
    inv_freq = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
    freqs = torch.einsum("i,j->ij", torch.arange(n, dtype=torch.float64), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos().float(), emb.sin().float()
    x1, x2 = x[..., : d // 2], x[..., d // 2:]
    return x * cos + torch.cat((-x2, x1), dim=-1) * sin


def attend(q, k, v, causal, key_padding):
    scores = (q @ k.transpose(-2, -1)) * (q.shape[-1] ** -0.5)                        # [B, H, N, N]
    if causal:
        n = scores.shape[-1]
        scores = scores.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), float("-inf"))
    if key_padding is not None:
        scores = scores.masked_fill(~key_padding.bool()[:, None, None, :], float("-inf"))
    return scores.softmax(dim=-1) @ v


def moh_attention_forward(s, p, x, key_padding):
    B, N, C = x.shape
    heads, head_dim = s["heads"], s["head_dim"]
    training = s.get("training", False)
    x_flat = x.reshape(B * N, C)
    # ViT layout: reshape(B, N, 3H, D) -> [B, 3H, N, D] -> q, k, v chunks of H heads.
    qkv = F.linear(x, p["qkv.weight"], p.get("qkv.bias")).reshape(B, N, 3 * heads, head_dim).permute(0, 2, 1, 3)
    q, k, v = qkv.chunk(3, dim=1)                                                      # [B, H, N, D]

    routing = s["routing"]
    if routing == "learned":
        gates, l_aux = learned_gates(s, p, x_flat, B, N, key_padding, training)
    elif routing == "parameter_free":
        gates, l_aux = parameter_free_gates(s, q, B, N, key_padding, training)
    else:
        gates, l_aux = torch.ones(B, N, heads), None

    if s.get("rotary", False):
        q, k = rotate(q, s["rotary_theta"]), rotate(k, s["rotary_theta"])
    o = attend(q, k, v, s.get("causal", False), key_padding).transpose(1, 2)        # [B, N, H, D]
    if routing != "dense":
        o = torch.einsum("bne,bned->bned", gates, o)
    y = F.linear(o.reshape(B, N, heads * head_dim), p["proj.weight"], p.get("proj.bias"))
    return y, gates, l_aux


@case("moh_attention")
def moh_attention(s, t):
    p = leaves(t, [n for n in PARAMETER_NAMES if n in t] + ["x"])
    y, gates, l_aux = moh_attention_forward(s, p, p["x"], t.get("key_padding"))
    objective = (y * t["grad_y"]).sum()
    out = {"y": y, "gates": gates}
    if l_aux is not None:
        objective = objective + BALANCE_COEFFICIENT * l_aux
        out["balance_loss"] = l_aux
    out.update(grads_of(objective, p))
    return out
