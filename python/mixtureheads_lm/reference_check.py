"""Checks this module against the independent functional reference of the LM (the test suite's
reference/lm_cases.py): for each config, the same weights and tokens must give the same logits and auxiliary loss.

    python3 -m mixtureheads_lm.reference_check <folder holding lm_cases.py>
Prints one line per case and exits non-zero on any mismatch.
"""
import sys

import torch

from .config import LMConfig, MoEConfig
from .model import MoHCausalLM


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
        logits, aux = model(tokens)
        params = {k: v.detach() for k, v in model.named_parameters()}
        ref_logits, ref_aux = causal_lm_forward(_settings(config), params, tokens)
        err = (logits - ref_logits).abs().max().item() / max(ref_logits.abs().max().item(), 1e-6)
        aux_err = 0.0 if aux is None and ref_aux is None else abs(aux.item() - ref_aux.item())
        ok = err < 1e-5 and aux_err < 1e-5
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name}: logits max rel err {err:.2e}, aux err {aux_err:.2e}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
