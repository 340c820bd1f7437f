"""Reference BERT-compatible classifier, written from the BERT paper / Hugging Face BertModel's documented
computation and specs/moh.md (attention converted to MoH), never from our C#.

Settings of a "bert_classifier" case: heads, shared, topk, head_dim, routing ("dense" | "learned" |
"parameter_free"), depth, eps, training.
Inputs: ids [B, L] (int64, 0 = [PAD]), grad_y [B, classes], and every parameter under our state-dict names
(word_embeddings.weight, position_embeddings.weight, token_type_embeddings.weight, embeddings_norm.*,
blocks.{i}.attn.*, blocks.{i}.norm1.*, blocks.{i}.mlp.fc1.*, blocks.{i}.mlp.fc2.*, blocks.{i}.norm2.*, head.*).
Outputs: y (logits), hidden (last hidden states), balance_loss (training with routed heads: the mean over layers),
grad/<every parameter>. The gradient objective is sum(y * grad_y) + 0.01 * balance_loss.
"""
import torch
import torch.nn.functional as F

import moh_cases
from cases_registry import case, grads_of, leaves


def layer_norm(x, p, prefix, eps):
    return F.layer_norm(x, (x.shape[-1],), p[f"{prefix}.weight"], p[f"{prefix}.bias"], eps)


def linear(x, p, prefix):
    return F.linear(x, p[f"{prefix}.weight"], p[f"{prefix}.bias"])


@case("bert_classifier")
def bert_classifier(s, t):
    names = [n for n in t if n not in ("ids", "grad_y")]
    p = leaves(t, names)
    ids = t["ids"]
    eps = s["eps"]
    real = ids != 0                                                                    # [B, L]
    length = ids.shape[1]
    # BERT embeddings: word + position + token type 0, then LayerNorm.
    x = p["word_embeddings.weight"][ids] + p["position_embeddings.weight"][:length] + p["token_type_embeddings.weight"][0]
    x = layer_norm(x, p, "embeddings_norm", eps)
    losses = []
    for i in range(s["depth"]):
        block = f"blocks.{i}"
        attention = {n[len(block) + len(".attn."):]: v for n, v in p.items() if n.startswith(block + ".attn.")}
        attended, _, l_aux = moh_cases.moh_attention_forward(s, attention, x, real)
        if l_aux is not None:
            losses.append(l_aux)
        x = layer_norm(x + attended, p, block + ".norm1", eps)                          # post-norm (BERT)
        hidden = F.gelu(linear(x, p, block + ".mlp.fc1"))                              # exact erf GELU
        x = layer_norm(x + linear(hidden, p, block + ".mlp.fc2"), p, block + ".norm2", eps)
    weights = real.unsqueeze(-1).float()
    pooled = (x * weights).sum(1) / weights.sum(1).clamp(min=1)                        # masked mean pooling
    y = linear(pooled, p, "head")
    objective = (y * t["grad_y"]).sum()
    out = {"y": y, "hidden": x}
    if losses:
        balance = torch.stack(losses).mean()
        objective = objective + moh_cases.BALANCE_COEFFICIENT * balance
        out["balance_loss"] = balance
    out.update(grads_of(objective, p))
    return out
