"""Reference decoder-only MoH / MH-MoE language model, written from ../shared/specs/moh.md and mhmoe.md (and the
LLaMA recipe they describe: pre-norm RMSNorm, rotary, bias-free causal attention, SwiGLU), never from our C#.
Everything is spelled out here on purpose (attention by hand, every expert on every sub-token and a routing mask),
so this module checks the model end to end rather than reusing the layer references.

Settings of a "causal_lm" case:
    vocab, dim, heads, shared, topk, routing ("dense" | "learned" | "parameter_free"), norm_eps, theta, tied,
    bitlinear (attention and dense feed-forward projections), training,
    layers: one dict per block, {"kind": "swiglu"} or {"kind": "moe", "heads", "experts", "top_k",
            "head_projections", "renormalize", "bitlinear"}.
Inputs: tokens [B, T] (int64), grad_logits [B, T, V], every parameter under its state-dict name.
Outputs: logits [B, T, V], balance_loss (training, when some layer routes), grad/<every parameter>.
Objective for the gradients: sum(logits * grad_logits) + 0.01 * balance_loss.
"""
import torch
import torch.nn.functional as F

from cases_registry import case, grads_of, leaves

EPS = torch.finfo(torch.float32).eps
BALANCE_WEIGHT = 0.01


# --- BitNet b1.58 (mhmoe.md section 4 and the pinned decisions) ----------------------------------------------------

def ternary(w):
    """absmean: W / mean|W| rounded into {-1, 0, 1}, scaled back (scale floor 1e-5)."""
    s = 1.0 / w.abs().mean().clamp(min=1e-5)
    return torch.clamp(torch.round(w * s), -1, 1) / s


def eight_bit(x):
    """absmax per row (token or sub-token) into [-128, 127], scaled back (floor 1e-5)."""
    s = 127.0 / x.abs().amax(dim=-1, keepdim=True).clamp(min=1e-5)
    return torch.clamp(torch.round(x * s), -128, 127) / s


def straight_through(x, quantised):
    return x + (quantised - x).detach()


def linear(x, p, name, bit):
    """A bias-free projection whose weight is p[name + '.weight']; BitLinear when bit (straight-through estimator)."""
    w = p[name + ".weight"]
    if bit:
        return F.linear(straight_through(x, eight_bit(x)), straight_through(w, ternary(w)))
    return F.linear(x, w, p.get(name + ".bias"))


def rms_norm(x, weight, eps):
    return x / torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps) * weight


def swiglu(x, p, prefix, bit):
    """fc2(fc1(x) * silu(fc3(x)))."""
    return linear(linear(x, p, prefix + "fc1", bit) * F.silu(linear(x, p, prefix + "fc3", bit)), p, prefix + "fc2", bit)


# --- Rotary positions (rotate-half, LLaMA) ------------------------------------------------------------------------

def rope(x, theta):
    """x [B, H, T, D] rotated by positions 0..T-1; angles in float64, rounded once to float32."""
    t, d = x.shape[-2], x.shape[-1]
    freq = theta ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)                # [D/2]
    angle = torch.arange(t, dtype=torch.float64)[:, None] * freq[None, :]            # [T, D/2]
    angle = torch.cat([angle, angle], dim=-1)
    cos, sin = angle.cos().float(), angle.sin().float()
    half = d // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rotated * sin


# --- MoH gates (moh.md section 2, 3 and decisions) ----------------------------------------------------------------

def balance(probs, selected):
    """E^2 * mean(P * f): P the mean routing probability, f the share of tokens selecting each routed head/expert."""
    e = probs.shape[1]
    return (probs.mean(dim=0) * selected.float().mean(dim=0)).mean() * e * e


def learned_gates(s, p, prefix, x_rows):
    """[T, H] gates and the balance loss (None without routed heads)."""
    h, hs, k = s["heads"], s["shared"], s["topk"]
    t = x_rows.shape[0]
    routed, loss = None, None
    if k > 0:
        probs = torch.softmax(x_rows @ p[prefix + "wg.weight"].t(), dim=-1)           # [T, E]
        chosen = torch.zeros_like(probs).scatter(1, probs.topk(k, dim=-1).indices, 1.0)
        kept = probs * chosen
        routed = kept / kept.sum(dim=-1, keepdim=True).clamp(min=EPS) * k
        loss = balance(probs, chosen)
    shared = None
    if hs > 1:
        shared = torch.softmax(x_rows @ p[prefix + "wg_1.weight"].t(), dim=-1) * hs
    elif hs == 1:
        shared = torch.ones(t, 1)
    if routed is None:
        return shared, loss
    if shared is None:
        return routed, loss
    alpha = torch.softmax(x_rows @ p[prefix + "wg_0.weight"].t(), dim=-1) * 2      # [T, 2]
    return torch.cat([shared * alpha[:, :1], routed * alpha[:, 1:]], dim=-1), loss


def parameter_free_gates(s, q):
    """MoH-LLaMA3 router on pre-rotary queries q [B, H, T, D]: routed heads scored by softmax(norm / unbiased std),
    top-k kept with gate exactly 1, straight-through into the scores; shared heads always 1."""
    b, h, t, _ = q.shape
    hs, k = s["shared"], s["topk"]
    norms = q[:, hs:].norm(dim=-1).permute(0, 2, 1).reshape(b * t, h - hs)            # [T, E]
    spread = norms.std(dim=-1, keepdim=True, unbiased=True).clamp(min=EPS)
    scores = torch.softmax(norms / spread, dim=-1)
    chosen = torch.zeros_like(scores).scatter(1, scores.topk(k, dim=-1).indices, 1.0)
    surrogate = scores * chosen
    routed = (surrogate - surrogate.detach()) + chosen                                  # value 0/1, gradient to scores
    return torch.cat([torch.ones(b * t, hs), routed], dim=-1), balance(scores, chosen)


def attention(s, p, prefix, x):
    """Causal MoH attention on x [B, T, C]: (output, head gates [B, T, H], balance loss or None)."""
    b, t, c = x.shape
    h = s["heads"]
    d = c // h
    bit = s["bitlinear"]
    qkv = linear(x, p, prefix + "qkv", bit).reshape(b, t, 3, h, d)
    q, k, v = (qkv[:, :, i].transpose(1, 2) for i in range(3))                         # [B, H, T, D]
    if s["routing"] == "learned":
        gates, loss = learned_gates(s, p, prefix, x.reshape(b * t, c))
    elif s["routing"] == "parameter_free":
        gates, loss = parameter_free_gates(s, q)
    else:
        gates, loss = torch.ones(b * t, h), None
    gates = gates.reshape(b, t, h)
    q, k = rope(q, s["theta"]), rope(k, s["theta"])
    scores = q @ k.transpose(-1, -2) / d ** 0.5
    scores = scores.masked_fill(torch.ones(t, t, dtype=torch.bool).triu(1), float("-inf"))
    heads_out = (scores.softmax(dim=-1) @ v).transpose(1, 2)                           # [B, T, H, D]
    heads_out = heads_out * gates[..., None]
    return linear(heads_out.reshape(b, t, h * d), p, prefix + "proj", bit), gates, loss


# --- Expert feed-forward (mhmoe.md section 2 and decisions: dropless, raw top-k probabilities) --------------------

def experts_layer(layer, p, prefix, x):
    b, t, d = x.shape
    h, n, k = layer["heads"], layer["experts"], layer["top_k"]
    rows = x.reshape(b * t, d)
    if layer["head_projections"]:
        rows = F.linear(rows, p[prefix + "multi_heads.weight"], p[prefix + "multi_heads.bias"])
    sub = rows.reshape(b * t * h, d // h)                                              # token-major sub-tokens
    probs = torch.softmax(sub.float() @ p[prefix + "wg.weight"].float().t(), dim=-1)  # [S, E]
    top = probs.topk(k, dim=-1).indices                                                # [S, k]
    weight = probs.gather(1, top)
    if layer["renormalize"]:
        weight = weight / weight.sum(dim=-1, keepdim=True).clamp(min=EPS)
    out = torch.zeros_like(sub)
    for e in range(n):
        share = (weight * (top == e).float()).sum(dim=-1, keepdim=True)               # [S, 1], 0 when not routed
        out = out + share * swiglu(sub, p, f"{prefix}experts.{e}.", layer["bitlinear"])
    merged = out.reshape(b * t, d)
    if layer["head_projections"]:
        merged = F.linear(merged, p[prefix + "out_proj.weight"], p[prefix + "out_proj.bias"])
    first = torch.zeros_like(probs).scatter(1, top[:, :1], 1.0)
    loss = n * (probs.mean(dim=0) * first.mean(dim=0)).sum()
    return merged.reshape(b, t, d), loss


# --- The model ----------------------------------------------------------------------------------------------------

def causal_lm_forward(s, p, tokens):
    x = p["tok_embeddings.weight"][tokens]                                            # [B, T, C]
    attention_losses, expert_losses = [], []
    for i, layer in enumerate(s["layers"]):
        prefix = f"blocks.{i}."
        attended, _, loss = attention(s, p, prefix + "attn.", rms_norm(x, p[prefix + "norm1.weight"], s["norm_eps"]))
        if loss is not None:
            attention_losses.append(loss)
        x = x + attended
        h = rms_norm(x, p[prefix + "norm2.weight"], s["norm_eps"])
        if layer["kind"] == "moe":
            ffn, loss = experts_layer(layer, p, prefix + "moe.", h)
            expert_losses.append(loss)
        else:
            ffn = swiglu(h, p, prefix + "mlp.", s["bitlinear"])
        x = x + ffn
    x = rms_norm(x, p["norm.weight"], s["norm_eps"])
    logits = x @ (p["tok_embeddings.weight"] if s["tied"] else p["lm_head.weight"]).t()
    total = None
    if attention_losses:
        total = torch.stack(attention_losses).mean()                                   # mean over MoH layers
    if expert_losses:
        experts_total = torch.stack(expert_losses).sum()                               # sum over MoE layers
        total = experts_total if total is None else total + experts_total
    return logits, total


@case("causal_lm")
def causal_lm(s, t):
    p = leaves(t, [n for n in t if n not in ("tokens", "grad_logits")])
    logits, loss = causal_lm_forward(s, p, t["tokens"])
    objective = (logits * t["grad_logits"]).sum()
    out = {"logits": logits}
    if loss is not None and s.get("training", True):
        objective = objective + BALANCE_WEIGHT * loss
        out["balance_loss"] = loss
    out.update(grads_of(objective, p))
    return out
