"""The table of reference cases.

@case("name") registers fn(settings: dict, inputs: dict[str, Tensor]) -> dict[str, Tensor].
By convention an upstream gradient for output "y" arrives as "grad_y", and gradients go back as "grad/<name>".
"""
import torch

CASES = {}


def case(name):
    def register(fn):
        CASES[name] = fn
        return fn
    return register


def leaves(inputs, names):
    """Fresh float leaves that require grad, for the named inputs."""
    return {n: inputs[n].detach().clone().requires_grad_(True) for n in names}


def grads_of(objective, named):
    """d objective / d each named tensor as "grad/<name>"; unused tensors get zeros."""
    tensors = list(named.values())
    grads = torch.autograd.grad(objective, tensors, allow_unused=True)
    return {f"grad/{n}": (g if g is not None else torch.zeros_like(t)) for (n, t), g in zip(named.items(), grads)}
