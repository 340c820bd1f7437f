"""Reference cases for the model-level building blocks (written from the PyTorch docs)."""
import torch
import torch.nn.functional as F

from cases_registry import case, grads_of, leaves


@case("conv_stem")
def conv_stem(s, t):
    """3x3 padding-1 convolutions (the first stride 1, the rest stride 2), GELU between them, then [B, C, h, w] -> [B, h*w, C].
    With s["batch_norm"], torch's BatchNorm2d (momentum 0.1, eps 1e-5) before each GELU: training normalises with the
    batch statistics and moves the running ones ("running/norms.{i}.running_mean|var" after the step); "y_eval" is the
    forward that then uses the running statistics."""
    names = [n for n in t if n.startswith("convs.") or (n.startswith("norms.") and not n.endswith(("running_mean", "running_var")))]
    p = leaves(t, ["x"] + names)
    layers, batch_norm = s["layers"], s.get("batch_norm", False)
    running = {n: t[n].clone() for n in t if n.endswith(("running_mean", "running_var"))}

    def forward(x, training):
        for i in range(layers):
            x = F.conv2d(x, p[f"convs.{i}.weight"], p[f"convs.{i}.bias"], stride=1 if i == 0 else 2, padding=1)
            if i < layers - 1:
                if batch_norm:
                    x = F.batch_norm(x, running[f"norms.{i}.running_mean"], running[f"norms.{i}.running_var"],
                                     p[f"norms.{i}.weight"], p[f"norms.{i}.bias"], training=training, momentum=0.1, eps=1e-5)
                x = F.gelu(x)
        return x.flatten(2).transpose(1, 2)

    y = forward(p["x"], training=True)
    out = {"y": y, **grads_of((y * t["grad_y"]).sum(), p)}
    if batch_norm:
        out.update({f"running/{n}": v for n, v in running.items()})
        with torch.no_grad():
            out["y_eval"] = forward(p["x"], training=False)
    return out


def modulate(x, shift, scale):
    """DiT's modulate: x * (1 + scale) + shift, the vectors broadcast over the tokens."""
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


@case("conditioned_block")
def conditioned_block(s, t):
    """A DiT block (adaLN-Zero): the condition c [B, C_cond] gives six vectors through SiLU + Linear; both halves
    are modulated, non-affine LayerNorm (eps 1e-6) before them, gated residuals after. MoH attention, GELU MLP."""
    import moh_cases

    names = [n for n in t if n.split(".")[0] in ("attn", "mlp", "adaLN_modulation")]
    p = leaves(t, names + ["x", "c"])
    x, c = p["x"], p["c"]
    dim = x.shape[-1]
    modulation = F.linear(F.silu(c), p["adaLN_modulation.1.weight"], p["adaLN_modulation.1.bias"])
    shift_a, scale_a, gate_a, shift_m, scale_m, gate_m = modulation.chunk(6, dim=1)

    attention = {n[len("attn."):]: v for n, v in p.items() if n.startswith("attn.")}
    h = modulate(F.layer_norm(x, (dim,), eps=1e-6), shift_a, scale_a)
    attended, gates, l_aux = moh_cases.moh_attention_forward(s, attention, h, None)
    x = x + gate_a.unsqueeze(1) * attended

    h = modulate(F.layer_norm(x, (dim,), eps=1e-6), shift_m, scale_m)
    mlp = F.linear(F.gelu(F.linear(h, p["mlp.fc1.weight"], p["mlp.fc1.bias"])), p["mlp.fc2.weight"], p["mlp.fc2.bias"])
    y = x + gate_m.unsqueeze(1) * mlp

    objective = (y * t["grad_y"]).sum()
    out = {"y": y, "gates": gates}
    if l_aux is not None:
        objective = objective + moh_cases.BALANCE_COEFFICIENT * l_aux
        out["balance_loss"] = l_aux
    out.update(grads_of(objective, p))
    return out
