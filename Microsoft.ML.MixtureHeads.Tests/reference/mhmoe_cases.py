"""Reference cases for MH-MoE, SMoE, BitLinear, RMSNorm and the FFN blocks.

Written from ../shared/specs/mhmoe.md (sections 2-4 and "Decisions for this project"), never from our C#.
Deliberately naive: every expert runs on every sub-token and a one-hot mask keeps its routed ones, capacity
slots come from the official cumsum over one-hot masks, the balance loss from one-hot means.
Parameters arrive as inputs named by their state-dict names; every one comes back as grad/<name>.
"""
import math

import torch
import torch.nn.functional as F

from cases_registry import case, grads_of, leaves


def rms_norm(x, weight, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


# --- BitNet b1.58 (spec section 4, FAQ code): absmean ternary weights, absmax 8-bit activations, STE ---------------

def weight_quant(w):
    scale = 1.0 / w.abs().mean().clamp(min=1e-5)
    return (w * scale).round().clamp(-1, 1) / scale


def activation_quant(x):
    scale = 127.0 / x.abs().max(dim=-1, keepdim=True).values.clamp(min=1e-5)
    return (x * scale).round().clamp(-128, 127) / scale


def bit_linear(x, w, norm_weight=None, eps=1e-6):
    if norm_weight is not None:
        x = rms_norm(x, norm_weight, eps)
    x_q = x + (activation_quant(x) - x).detach()
    w_q = w + (weight_quant(w) - w).detach()
    return F.linear(x_q, w_q)


def projection(x, p, name, bit):
    """A Linear (bias if given) or a BitLinear (never a bias) whose parameters are p[name + '.weight'] etc."""
    if bit:
        return bit_linear(x, p[name + ".weight"])
    return F.linear(x, p[name + ".weight"], p.get(name + ".bias"))


def swiglu(x, p, prefix, bit):
    """Official expert FFN with activation silu: fc2(fc1(x) * silu(fc3(x)))."""
    return projection(projection(x, p, prefix + "fc1", bit) * F.silu(projection(x, p, prefix + "fc3", bit)),
                      p, prefix + "fc2", bit)


def parameter_names(inputs):
    return [n for n in inputs if n != "grad_y" and not n.startswith("grad")]


@case("rmsnorm_module")
def rmsnorm_module(s, t):
    p = leaves(t, ["x", "weight"])
    y = rms_norm(p["x"], p["weight"], s["eps"])
    return {"y": y, **grads_of((y * t["grad_y"]).sum(), p)}


@case("bitlinear")
def bitlinear(s, t):
    p = leaves(t, parameter_names(t))
    y = bit_linear(p["x"], p["weight"], p.get("norm.weight"), s.get("eps", 1e-6))
    x_in = rms_norm(t["x"], t["norm.weight"], s.get("eps", 1e-6)) if "norm.weight" in t else t["x"]
    return {
        "y": y,
        "weight_q": weight_quant(t["weight"]),
        "x_q": activation_quant(x_in),
        **grads_of((y * t["grad_y"]).sum(), p),
    }


@case("swiglu")
def swiglu_case(s, t):
    p = leaves(t, parameter_names(t))
    y = swiglu(p["x"], p, "", s.get("bitlinear", False))
    return {"y": y, **grads_of((y * t["grad_y"]).sum(), p)}


@case("gelu_mlp")
def gelu_mlp(s, t):
    """timm Mlp: fc2(gelu(fc1(x))), exact erf GELU."""
    p = leaves(t, parameter_names(t))
    bit = s.get("bitlinear", False)
    y = projection(F.gelu(projection(p["x"], p, "fc1", bit)), p, "fc2", bit)
    return {"y": y, **grads_of((y * t["grad_y"]).sum(), p)}


# --- MH-MoE layer (spec section 2 + decisions) --------------------------------------------------------------------

def one_hot(indices, classes):
    return torch.zeros(indices.shape[0], classes).scatter(1, indices.unsqueeze(1), 1.0)


@case("mhmoe")
def mhmoe(s, t):
    """Settings: dim, heads, experts, top_k, head_projections, capacity_factor (None = dropless), renormalize,
    bitlinear, balance_weight. Objective: sum(y * grad_y) + balance_weight * balance_loss."""
    d, h, n_exp, k = s["dim"], s["heads"], s["experts"], s["top_k"]
    bit = s.get("bitlinear", False)
    p = leaves(t, parameter_names(t))
    x = p["x"]
    tokens = x.numel() // d
    sub_dim = d // h

    # 1. head projection, 2. split into h sub-tokens (token-major, contiguous features)
    X = x.reshape(tokens, d)
    if s["head_projections"]:
        X = F.linear(X, p["multi_heads.weight"], p["multi_heads.bias"])
    sub = X.reshape(tokens, h, sub_dim).reshape(tokens * h, sub_dim)
    S = sub.shape[0]

    # 3. router in fp32, softmax over all experts, then top-k; combine weight = that expert's probability
    gates = torch.softmax(F.linear(sub.float(), p["wg.weight"].float()), dim=1)
    top = torch.topk(gates, k, dim=1).indices                                     # [S, k]
    masks = [one_hot(top[:, j], n_exp) for j in range(k)]                          # k x [S, E]
    weights = [(gates * m).sum(dim=1) for m in masks]                             # k x [S]
    if s.get("renormalize", False):
        denom = torch.clamp(sum(weights), min=torch.finfo(weights[0].dtype).eps)
        weights = [w / denom for w in weights]

    # 4. capacity: official locations (cumsum - 1 over each choice's mask, offset by all earlier choices' counts)
    kept = [torch.ones(S) for _ in range(k)]
    if s.get("capacity_factor") is not None:
        capacity = math.ceil(s["capacity_factor"] * k * math.ceil(S / n_exp))
        earlier = torch.zeros(1, n_exp)
        for j in range(k):
            locations = torch.cumsum(masks[j], dim=0) - 1 + earlier
            kept[j] = ((locations * masks[j]).sum(dim=1) < capacity).float()
            earlier = earlier + masks[j].sum(dim=0, keepdim=True)

    # 5. experts, naively: each expert on every sub-token, masked by routing (post-score combine)
    out = torch.zeros(S, sub_dim)
    for e in range(n_exp):
        y_e = swiglu(sub, p, f"experts.{e}.", bit)
        for j in range(k):
            out = out + (weights[j] * masks[j][:, e] * kept[j]).unsqueeze(1) * y_e

    # 6. merge (inverse of split) and merge projection
    merged = out.reshape(tokens, h, sub_dim).reshape(tokens, d)
    if s["head_projections"]:
        merged = F.linear(merged, p["out_proj.weight"], p["out_proj.bias"])
    y = merged.reshape(x.shape)

    # 7. GShard balance loss on the first choice only
    balance = n_exp * (gates.mean(dim=0) * masks[0].mean(dim=0)).sum()
    objective = (y * t["grad_y"]).sum() + s.get("balance_weight", 0.01) * balance

    load = sum(m.sum(dim=0) for m in masks) / (S * k)
    kept_assignments = sum(kk.sum() for kk in kept)
    return {
        "y": y,
        "balance_loss": balance,
        "expert_load": load,
        "kept_assignments": kept_assignments,
        **grads_of(objective, p),
    }
