"""Reference for our AdamW: torch.optim.AdamW driven by given gradients, step by step."""
import torch

from cases_registry import case


@case("adamw")
def adamw(s, t):
    """Parameters "p/<i>" take s["steps"] steps with gradients "g<step>/<i>"; the learning rate of step k is s["lr"] * (k + 1).

    Group 0 (parameters listed in s["decayed"]) has weight decay s["weight_decay"]; the rest have none.
    """
    names = sorted(k for k in t if k.startswith("p/"))
    params = {n: t[n].detach().clone().requires_grad_(True) for n in names}
    decayed = [params[f"p/{i}"] for i in s["decayed"]]
    others = [p for n, p in params.items() if int(n[2:]) not in s["decayed"]]
    optimizer = torch.optim.AdamW(
        [{"params": decayed, "weight_decay": s["weight_decay"]}, {"params": others, "weight_decay": 0.0}],
        lr=s["lr"], betas=(0.9, 0.999), eps=1e-8)
    for step in range(s["steps"]):
        for group in optimizer.param_groups:
            group["lr"] = s["lr"] * (step + 1)
        for n, p in params.items():
            grad = t.get(f"g{step}/{n[2:]}")
            p.grad = None if grad is None else grad.clone()
        optimizer.step()
    return {n: p.detach() for n, p in params.items()}
