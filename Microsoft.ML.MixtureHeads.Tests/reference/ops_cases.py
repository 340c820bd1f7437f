"""Reference cases for the single ops our layers lean on (written from the PyTorch docs, not from our C#)."""
import math

import torch
import torch.nn.functional as F

from cases_registry import case, grads_of, leaves


@case("softmax")
def softmax(s, t):
    x = leaves(t, ["x"])
    y = torch.softmax(x["x"], dim=s["dim"])
    return {"y": y, **grads_of((y * t["grad_y"]).sum(), x)}


@case("topk_gates")
def topk_gates(s, t):
    """softmax -> top-k -> scatter a {0,1} mask -> keep the selected probabilities -> renormalise."""
    x = leaves(t, ["x"])
    probs = torch.softmax(x["x"], dim=-1)
    values, indices = torch.topk(probs, s["k"], dim=-1)
    mask = torch.zeros_like(probs).scatter(-1, indices, 1.0)
    kept = probs * mask
    y = kept / kept.sum(-1, keepdim=True).clamp(min=torch.finfo(kept.dtype).eps)
    return {"y": y, "values": values, "indices": indices, "mask": mask, **grads_of((y * t["grad_y"]).sum(), x)}


@case("layer_norm")
def layer_norm(s, t):
    p = leaves(t, ["x", "weight", "bias"])
    y = F.layer_norm(p["x"], (p["x"].shape[-1],), p["weight"], p["bias"], s["eps"])
    return {"y": y, **grads_of((y * t["grad_y"]).sum(), p)}


@case("rms_norm")
def rms_norm(s, t):
    p = leaves(t, ["x", "weight"])
    x = p["x"]
    y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + s["eps"]) * p["weight"]
    return {"y": y, **grads_of((y * t["grad_y"]).sum(), p)}


@case("gelu")
def gelu(s, t):
    x = leaves(t, ["x"])
    y = F.gelu(x["x"], approximate=s.get("approximate", "none"))
    return {"y": y, **grads_of((y * t["grad_y"]).sum(), x)}


@case("silu")
def silu(s, t):
    x = leaves(t, ["x"])
    y = F.silu(x["x"])
    return {"y": y, **grads_of((y * t["grad_y"]).sum(), x)}


@case("attention")
def attention(s, t):
    """softmax(q k^T / sqrt(d) + mask) v, written out by hand (PyTorch 1.13 has no fused kernel)."""
    p = leaves(t, ["q", "k", "v"])
    q, k, v = p["q"], p["k"], p["v"]
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if s.get("causal", False):
        n_q, n_k = scores.shape[-2], scores.shape[-1]
        allowed = torch.ones(n_q, n_k, dtype=torch.bool).tril()
        scores = scores.masked_fill(~allowed, float("-inf"))
    if "key_padding" in t:  # [B, N_k] 1 = real token, 0 = padding
        pad = t["key_padding"].bool()[:, None, None, :]
        scores = scores.masked_fill(~pad, float("-inf"))
    y = torch.softmax(scores, dim=-1) @ v
    return {"y": y, **grads_of((y * t["grad_y"]).sum(), p)}


@case("cross_entropy")
def cross_entropy(s, t):
    p = leaves(t, ["logits"])
    loss = F.cross_entropy(p["logits"], t["target"], label_smoothing=s.get("label_smoothing", 0.0))
    return {"loss": loss, **grads_of(loss, p)}
