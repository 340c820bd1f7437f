"""Reference case for the ResNet trunk of the hybrid models (written from the PyTorch docs and He et al. 2016)."""
import torch.nn.functional as F

from cases_registry import case, grads_of, leaves


def conv_bn(x, p, conv, bn, stride, padding):
    """Bias-free convolution, then batch normalisation with the running statistics (eval mode, eps 1e-5)."""
    x = F.conv2d(x, p[f"{conv}.weight"], None, stride=stride, padding=padding)
    return F.batch_norm(x, p[f"{bn}.running_mean"], p[f"{bn}.running_var"], p[f"{bn}.weight"], p[f"{bn}.bias"],
                        training=False, eps=1e-5)


@case("resnet_trunk")
def resnet_trunk(s, t):
    """7x7/2 conv + BN + ReLU + 3x3/2 max pool, then stages of basic blocks (3x3 convs, BN, identity or 1x1/2
    projection shortcut, ReLU after the sum). Gradients of the input and of every conv/BN weight and bias."""
    trainable = [n for n in t if n.endswith(".weight") or n.endswith(".bias")]
    p = leaves(t, ["x"] + trainable)
    stats = {n: t[n] for n in t if "running_" in n}
    q = {**p, **stats}
    x = F.max_pool2d(F.relu(conv_bn(p["x"], q, "stem.conv", "stem.bn", 2, 3)), 3, 2, 1)
    for stage, blocks in enumerate(s["blocks"]):
        for b in range(blocks):
            prefix = f"stages.{stage}.{b}"
            stride = 2 if stage > 0 and b == 0 else 1
            h = F.relu(conv_bn(x, q, f"{prefix}.conv1", f"{prefix}.bn1", stride, 1))
            h = conv_bn(h, q, f"{prefix}.conv2", f"{prefix}.bn2", 1, 1)
            shortcut = conv_bn(x, q, f"{prefix}.downsample.conv", f"{prefix}.downsample.bn", stride, 0) \
                if f"{prefix}.downsample.conv.weight" in q else x
            x = F.relu(h + shortcut)
    return {"y": x, **grads_of((x * t["grad_y"]).sum(), p)}
