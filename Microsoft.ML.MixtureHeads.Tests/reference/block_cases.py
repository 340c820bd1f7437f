"""Reference cases for the model-level building blocks (written from the PyTorch docs)."""
import torch.nn.functional as F

from cases_registry import case, grads_of, leaves


@case("conv_stem")
def conv_stem(s, t):
    """3x3 padding-1 convolutions (the first stride 1, the rest stride 2), GELU between them, then [B, C, h, w] -> [B, h*w, C]."""
    names = [n for n in t if n.startswith("convs.")]
    p = leaves(t, ["x"] + names)
    x = p["x"]
    layers = s["layers"]
    for i in range(layers):
        x = F.conv2d(x, p[f"convs.{i}.weight"], p[f"convs.{i}.bias"], stride=1 if i == 0 else 2, padding=1)
        if i < layers - 1:
            x = F.gelu(x)
    y = x.flatten(2).transpose(1, 2)
    return {"y": y, **grads_of((y * t["grad_y"]).sum(), p)}
