"""A decoder-only Mixture-of-Head attention language model in one file, read top to bottom.

Written from the specs (MoH: arXiv 2410.11842; MH-MoE: arXiv 2404.15045 / 2411.16205; BitNet b1.58) with the LLaMA
recipe they use: pre-norm RMSNorm, rotary positions, bias-free causal attention, SwiGLU. It is the PyTorch twin of
.NET's MoHCausalLM: the same config (config.LMConfig) and the same state-dict names, so a checkpoint folder
(model.safetensors + config.json) moves between the two without renaming:

    tok_embeddings.weight                      [V, D]
    blocks.{i}.norm1.weight / norm2.weight     [D]
    blocks.{i}.attn.qkv.weight                 [3 H Dh, D]      rows: q (heads in order), k, v
    blocks.{i}.attn.proj.weight                [D, H Dh]
    blocks.{i}.attn.wg.weight                  [H - Hs, D]      learned routing with RoutedTopK > 0
    blocks.{i}.attn.wg_0.weight                [2, D]           learned routing with shared and routed heads, two-stage
    blocks.{i}.attn.wg_1.weight                [Hs, D]          learned routing with more than one shared head
    blocks.{i}.mlp.fc1/fc2/fc3.weight                           dense SwiGLU: fc2(fc1(x) * silu(fc3(x)))
    blocks.{i}.moe.multi_heads.weight/bias     [D, D]           expert layer head projection (MH-MoE)
    blocks.{i}.moe.wg.weight                   [E, D / h]       expert router
    blocks.{i}.moe.experts.{e}.fc1/fc2/fc3.weight               SwiGLU experts
    blocks.{i}.moe.out_proj.weight/bias        [D, D]           merge projection (MH-MoE)
    norm.weight                                [D]
    lm_head.weight                             [V, D]           absent with tied embeddings
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import LMConfig

EPS = torch.finfo(torch.float32).eps
BALANCE_WEIGHT = 0.01


# --- BitNet b1.58 ------------------------------------------------------------------------------------------------

class BitLinear(nn.Linear):
    """Bias-free projection with ternary weights (absmean scale) and 8-bit activations (absmax per row), trained
    through the straight-through estimator; the weight is stored in full precision."""

    def __init__(self, in_features, out_features):
        super().__init__(in_features, out_features, bias=False)

    def forward(self, x):
        w = self.weight
        w_scale = 1.0 / w.abs().mean().clamp(min=1e-5)
        w_q = torch.clamp(torch.round(w * w_scale), -1, 1) / w_scale
        x_scale = 127.0 / x.abs().amax(dim=-1, keepdim=True).clamp(min=1e-5)
        x_q = torch.clamp(torch.round(x * x_scale), -128, 127) / x_scale
        return F.linear(x + (x_q - x).detach(), w + (w_q - w).detach())


def projection(in_features, out_features, kind):
    return BitLinear(in_features, out_features) if kind == "BitLinear" else nn.Linear(in_features, out_features, bias=False)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps) * self.weight


class SwiGLU(nn.Module):
    def __init__(self, dim, hidden, kind):
        super().__init__()
        self.fc1 = projection(dim, hidden, kind)
        self.fc2 = projection(hidden, dim, kind)
        self.fc3 = projection(dim, hidden, kind)

    def forward(self, x):
        return self.fc2(self.fc1(x) * F.silu(self.fc3(x)))


# --- Rotary positions (rotate-half) ----------------------------------------------------------------------------

class Rotary(nn.Module):
    """cos/sin tables for MaxLength positions; angles in float64, rounded once to float32. Not saved."""

    def __init__(self, head_dim, max_length, theta):
        super().__init__()
        inv_freq = theta ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)     # [Dh/2]
        angles = torch.outer(torch.arange(max_length, dtype=torch.float64), inv_freq)           # [L, Dh/2]
        angles = torch.cat([angles, angles], dim=-1)                                            # [L, Dh]
        self.register_buffer("cos", angles.cos().float(), persistent=False)
        self.register_buffer("sin", angles.sin().float(), persistent=False)

    def forward(self, x):
        # x: [B, H, T, Dh]
        t, half = x.shape[-2], x.shape[-1] // 2
        rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
        return x * self.cos[:t].to(x.dtype) + rotated * self.sin[:t].to(x.dtype)


def balance_loss(probs, chosen):
    """E^2 * mean(P * f): P the mean routing probability of each routed head, f the share of tokens choosing it."""
    e = probs.shape[-1]
    return (probs.mean(dim=0) * chosen.float().mean(dim=0)).mean() * e * e


# --- Mixture-of-Head attention ------------------------------------------------------------------------------------

class MoHAttention(nn.Module):
    """Causal multi-head attention whose heads are weighted per token: Hs shared heads always on and the top-k of the
    remaining routed heads (learned router: softmax scores renormalised over the top-k and scaled by k; shared
    heads weighted by softmax x Hs; the two groups balanced by softmax x 2), parameter-free (top-k routed heads by
    the normalised norm of their pre-rotary query, gate 1) or dense (every head, gate 1)."""

    def __init__(self, c: LMConfig):
        super().__init__()
        self.heads, self.head_dim = c.Heads, c.head_dim
        self.shared, self.top_k, self.routing = c.shared_heads, c.routed_top_k, c.Routing
        self.dropout = c.AttentionDropout
        inner = c.Heads * c.head_dim
        self.qkv = projection(c.Dim, 3 * inner, c.Linear)
        self.proj = projection(inner, c.Dim, c.Linear)
        if c.Routing == "Learned":
            if self.top_k > 0:
                self.wg = nn.Linear(c.Dim, c.Heads - self.shared, bias=False)
            if self.top_k > 0 and self.shared > 0 and c.TwoStageRouting:
                self.wg_0 = nn.Linear(c.Dim, 2, bias=False)
            if self.shared > 1:
                self.wg_1 = nn.Linear(c.Dim, self.shared, bias=False)

    def learned_gates(self, x):
        # x: [N, D] -> gates [N, H], balance loss or None
        n = x.shape[0]
        routed = loss = shared = None
        if self.top_k > 0:
            probs = F.softmax(self.wg(x), dim=-1)                                             # [N, H - Hs]
            chosen = torch.zeros_like(probs).scatter(1, probs.topk(self.top_k, dim=-1).indices, 1.0)
            kept = probs * chosen
            routed = kept / kept.sum(dim=-1, keepdim=True).clamp(min=EPS) * self.top_k
            loss = balance_loss(probs, chosen)
        if self.shared > 1:
            shared = F.softmax(self.wg_1(x), dim=-1) * self.shared
        elif self.shared == 1:
            shared = x.new_ones(n, 1)
        if routed is None:
            return shared, loss
        if shared is None:
            return routed, loss
        if not hasattr(self, "wg_0"):                                                           # no two-stage routing
            return torch.cat([shared, routed], dim=-1), loss
        alpha = F.softmax(self.wg_0(x), dim=-1) * 2                                           # [N, 2]
        return torch.cat([shared * alpha[:, :1], routed * alpha[:, 1:]], dim=-1), loss

    def parameter_free_gates(self, q):
        # q: [B, H, T, Dh] before rotary -> gates [B T, H] (routed gates exactly 0/1, gradient into the scores)
        b, h, t, _ = q.shape
        norms = q[:, self.shared:].norm(dim=-1).permute(0, 2, 1).reshape(b * t, h - self.shared)
        scores = F.softmax(norms / norms.std(dim=-1, keepdim=True).clamp(min=EPS), dim=-1)
        chosen = torch.zeros_like(scores).scatter(1, scores.topk(self.top_k, dim=-1).indices, 1.0)
        picked = scores * chosen
        routed = picked - picked.detach() + chosen
        return torch.cat([q.new_ones(b * t, self.shared), routed], dim=-1), balance_loss(scores, chosen)

    def forward(self, x, rotary):
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)  # 3 x [B, H, T, Dh]
        if self.routing == "Learned":
            gates, loss = self.learned_gates(x.reshape(b * t, d))
        elif self.routing == "ParameterFree":
            gates, loss = self.parameter_free_gates(q)
        else:
            gates, loss = None, None
        q, k = rotary(q), rotary(k)
        dropout = self.dropout if self.training else 0.0
        if hasattr(F, "scaled_dot_product_attention"):                                      # torch >= 2.0
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, is_causal=True)
        else:
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(self.head_dim)                   # [B, H, T, T]
            mask = torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1)
            y = F.dropout(scores.masked_fill(mask, float("-inf")).softmax(dim=-1), dropout, self.training) @ v
        y = y.transpose(1, 2)                                                               # [B, T, H, Dh]
        if gates is not None:
            y = y * gates.view(b, t, self.heads, 1).to(y.dtype)
        return self.proj(y.reshape(b, t, self.heads * self.head_dim)), loss


# --- Expert feed-forward (SMoE, fine-grained SMoE, MH-MoE) ------------------------------------------------------

class MultiHeadMoE(nn.Module):
    """Each token is (optionally projected and) split into h sub-tokens; each sub-token goes to its top-k SwiGLU
    experts, weighted by their softmax probabilities (renormalised if asked); the sub-tokens are merged back and
    projected. Dropless. Balance loss: E * sum(mean probability x share of sub-tokens whose first choice it is)."""

    def __init__(self, c: LMConfig):
        super().__init__()
        m = c.MoE
        self.h, self.n, self.k, self.renormalize = m.Heads, m.Experts, m.TopK, m.RenormalizeTopK
        if m.uses_head_projections:
            self.multi_heads = nn.Linear(c.Dim, c.Dim, bias=True)
        self.wg = nn.Linear(c.Dim // m.Heads, m.Experts, bias=False)
        self.experts = nn.ModuleList(SwiGLU(c.Dim // m.Heads, m.ExpertHidden, m.ExpertLinear) for _ in range(m.Experts))
        if m.uses_head_projections:
            self.out_proj = nn.Linear(c.Dim, c.Dim, bias=True)

    def forward(self, x):
        b, t, d = x.shape
        rows = x.reshape(b * t, d)
        if hasattr(self, "multi_heads"):
            rows = self.multi_heads(rows)
        sub = rows.reshape(b * t * self.h, d // self.h)                                     # [S, d/h], token-major
        probs = F.softmax(self.wg(sub).float(), dim=-1)                                     # [S, E]
        weight, top = probs.topk(self.k, dim=-1)                                            # [S, k]
        if self.renormalize:
            weight = weight / weight.sum(dim=-1, keepdim=True).clamp(min=EPS)
        out = torch.zeros_like(sub)
        for e, expert in enumerate(self.experts):
            rows_e, slot = torch.nonzero(top == e, as_tuple=True)
            if rows_e.numel():
                out.index_add_(0, rows_e, expert(sub[rows_e]) * weight[rows_e, slot, None].to(sub.dtype))
        merged = out.reshape(b * t, d)
        if hasattr(self, "out_proj"):
            merged = self.out_proj(merged)
        first = F.one_hot(top[:, 0], self.n).float()
        loss = self.n * (probs.mean(dim=0) * first.mean(dim=0)).sum()
        return merged.reshape(b, t, d), loss


class Block(nn.Module):
    def __init__(self, c: LMConfig, index):
        super().__init__()
        self.norm1 = RMSNorm(c.Dim, c.NormEps)
        self.attn = MoHAttention(c)
        self.norm2 = RMSNorm(c.Dim, c.NormEps)
        if c.has_experts(index):
            self.moe = MultiHeadMoE(c)
        else:
            self.mlp = SwiGLU(c.Dim, c.hidden, c.Linear)

    def forward(self, x, rotary):
        attended, attention_loss = self.attn(self.norm1(x), rotary)
        x = x + attended
        h = self.norm2(x)
        if hasattr(self, "moe"):
            ffn, expert_loss = self.moe(h)
        else:
            ffn, expert_loss = self.mlp(h), None
        return x + ffn, attention_loss, expert_loss


# --- The model ----------------------------------------------------------------------------------------------------

class MoHCausalLM(nn.Module):
    """tokens [B, T] (int64) -> (logits [B, T, V], auxiliary balance loss or None). The auxiliary loss is the mean
    over MoH layers of their head balance losses plus the sum over expert layers of theirs; train on
    cross_entropy + BALANCE_WEIGHT * aux (see `loss`)."""

    def __init__(self, config: LMConfig):
        super().__init__()
        config.validate()
        self.config = config
        self.tok_embeddings = nn.Embedding(config.VocabularySize, config.Dim)
        self.rotary = Rotary(config.head_dim, config.MaxLength, config.RotaryTheta)
        self.blocks = nn.ModuleList(Block(config, i) for i in range(config.Depth))
        self.norm = RMSNorm(config.Dim, config.NormEps)
        if not config.TieEmbeddings:
            self.lm_head = nn.Linear(config.Dim, config.VocabularySize, bias=False)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module):
        """GPT-style: projections and embeddings N(0, 0.02) truncated at 2 std, biases 0, norms 1."""
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.trunc_normal_(module.weight, std=0.02, a=-0.04, b=0.04)
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)

    def forward(self, tokens):
        b, t = tokens.shape
        if t > self.config.MaxLength:
            raise ValueError(f"{t} positions exceed MaxLength {self.config.MaxLength}")
        x = self.tok_embeddings(tokens)                                                     # [B, T, D]
        attention_losses, expert_losses = [], []
        for block in self.blocks:
            x, attention_loss, expert_loss = block(x, self.rotary)
            if attention_loss is not None:
                attention_losses.append(attention_loss)
            if expert_loss is not None:
                expert_losses.append(expert_loss)
        x = self.norm(x)
        head = self.tok_embeddings.weight if self.config.TieEmbeddings else self.lm_head.weight
        logits = F.linear(x, head)                                                          # [B, T, V]
        aux = None
        if attention_losses:
            aux = torch.stack(attention_losses).mean()
        if expert_losses:
            experts = torch.stack(expert_losses).sum()
            aux = experts if aux is None else aux + experts
        return logits, aux

    def loss(self, tokens):
        """Next-token cross-entropy over windows tokens [B, T + 1] plus the weighted balance loss: (total, cross-entropy)."""
        return next_token_loss(self, tokens)

    def num_parameters(self):
        return sum(p.numel() for p in self.parameters())


def next_token_loss(model, tokens):
    """(cross-entropy + BALANCE_WEIGHT x aux, cross-entropy) of `model` (a MoHCausalLM or a wrapper of one, such as
    DistributedDataParallel, whose forward must be the one called) predicting tokens[:, 1:] from tokens[:, :-1]."""
    logits, aux = model(tokens[:, :-1])                                                     # [B, T, V]
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), tokens[:, 1:].reshape(-1))
    return (ce if aux is None else ce + BALANCE_WEIGHT * aux), ce
