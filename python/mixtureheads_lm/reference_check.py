"""Checks this module against the independent functional reference of the LM (the test suite's
reference/lm_cases.py): for each config, the same weights and tokens must give the same logits, auxiliary loss and parameter gradients.

    python3 -m mixtureheads_lm.reference_check <folder holding lm_cases.py>
Prints one line per case and exits non-zero on any mismatch.
"""
import sys

import torch

from .config import LMConfig, MoEConfig
from .model import BALANCE_WEIGHT, MoHCausalLM


def _settings(c: LMConfig):
    """The reference's settings dict for a config."""
    layers = []
    for i in range(c.Depth):
        if c.has_experts(i):
            m = c.MoE
            layers.append({"kind": "moe", "heads": m.Heads, "experts": m.Experts, "top_k": m.TopK,
                           "head_projections": m.uses_head_projections, "renormalize": m.RenormalizeTopK,
                           "bitlinear": m.ExpertLinear == "BitLinear"})
        else:
            layers.append({"kind": "swiglu"})
    routing = {"Dense": "dense", "Learned": "learned", "ParameterFree": "parameter_free"}[c.Routing]
    return {"vocab": c.VocabularySize, "dim": c.Dim, "heads": c.Heads, "shared": c.shared_heads, "topk": c.routed_top_k,
            "routing": routing, "norm_eps": c.NormEps, "theta": c.RotaryTheta, "tied": c.TieEmbeddings,
            "bitlinear": c.Linear == "BitLinear", "layers": layers}


def cases():
    base = dict(Dim=48, Depth=2, Heads=4, SharedHeads=1, RoutedTopK=2, VocabularySize=40, MaxLength=16)
    mh2 = MoEConfig(Experts=4, ExpertHidden=32, Heads=2, TopK=2)
    return {
        "dense, untied": LMConfig(**{**base, "Routing": "Dense", "TieEmbeddings": False}),
        "MoH 1+2 of 4, tied": LMConfig(**base),
        "MoH 0+2 of 4, SMoE": LMConfig(**{**base, "SharedHeads": 0, "FeedForward": "MultiHeadMoE",
                                          "MoE": MoEConfig(Experts=4, ExpertHidden=64, TopK=1)}),
        "MoH 2+1 of 4, MH-MoE h=2 every 2nd block": LMConfig(**{**base, "SharedHeads": 2, "RoutedTopK": 1, "MoEInterval": 2,
                                                               "FeedForward": "MultiHeadMoE", "MoE": mh2}),
        "MH-MoE h=3 renormalised": LMConfig(**{**base, "FeedForward": "MultiHeadMoE",
                                               "MoE": MoEConfig(Experts=4, ExpertHidden=16, Heads=3, TopK=2, RenormalizeTopK=True)}),
        "parameter-free 2+2 of 6": LMConfig(**{**base, "Routing": "ParameterFree", "Heads": 6, "SharedHeads": 2}),
        "BitNet everywhere": LMConfig(**{**base, "Linear": "BitLinear", "FeedForward": "MultiHeadMoE", "MoEInterval": 2,
                                         "MoE": MoEConfig(Experts=4, ExpertHidden=32, Heads=2, TopK=2, ExpertLinear="BitLinear")}),
    }


def main(reference_folder):
    sys.path.insert(0, reference_folder)
    from lm_cases import causal_lm_forward                      # noqa: E402 (the test suite's reference)
    torch.manual_seed(0)
    failures = 0
    for name, config in cases().items():
        model = MoHCausalLM(config).train()
        with torch.no_grad():
            for pname, p in model.named_parameters():           # a scale where routing and every path matter
                if p.dim() >= 2:
                    p.normal_(0, p.shape[1] ** -0.5)
                elif "norm" in pname:
                    p.normal_(1, 0.1)
                else:
                    p.normal_(0, 0.1)
            model.tok_embeddings.weight.normal_(0, 1)
        tokens = torch.randint(0, config.VocabularySize, (2, 7))
        upstream = torch.randn(2, 7, config.VocabularySize)
        logits, aux = model(tokens)
        params = {k: v.detach().clone().requires_grad_(True) for k, v in model.named_parameters()}
        ref_logits, ref_aux = causal_lm_forward(_settings(config), params, tokens)
        err = (logits - ref_logits).abs().max().item() / max(ref_logits.abs().max().item(), 1e-6)
        aux_err = 0.0 if aux is None and ref_aux is None else abs(aux.item() - ref_aux.item())
        # Every gradient of sum(logits * upstream) + 0.01 * aux.
        objective = (logits * upstream).sum() + (0 if aux is None else BALANCE_WEIGHT * aux)
        ref_objective = (ref_logits * upstream).sum() + (0 if ref_aux is None else BALANCE_WEIGHT * ref_aux)
        objective.backward()
        ref_objective.backward()
        # Per tensor, the largest |ours - reference| relative to the tensor's largest magnitude (at least 1): fp32
        # sums over many terms leave errors in proportion to the tensor's scale, and a gradient that is zero up to
        # rounding (the router of top-1 routing, whose renormalised gate is exactly 1) is compared in absolute terms.
        grad_err = 0.0
        for pname, p in model.named_parameters():
            g, r = p.grad, params[pname].grad
            g = torch.zeros_like(p) if g is None else g
            r = torch.zeros_like(p) if r is None else r
            grad_err = max(grad_err, ((g - r).abs().max() / r.abs().max().clamp(min=1.0)).item())
        ok = err < 1e-5 and aux_err < 1e-5 and grad_err < 2e-5
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name}: logits max rel err {err:.2e}, aux err {aux_err:.2e}, "
              f"worst gradient error {grad_err:.2e} of its tensor's scale")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
