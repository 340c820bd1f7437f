"""Checkpoint folders shared with .NET: model.safetensors (float32 state dict under the .NET parameter names) and
config.json (see config.py). `load_checkpoint` checks every name, shape and dtype and names the first at fault."""
import os
import tempfile

import torch

from . import safetensors_io
from .config import ConfigError, config_json, read_config_json
from .model import MoHCausalLM

WEIGHTS = "model.safetensors"
CONFIG = "config.json"


class CheckpointError(ValueError):
    """A checkpoint folder whose weights do not fit its config; the message names the file and the parameter."""


def _write_text_atomically(path, text):
    folder = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".partial", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temporary, safetensors_io._default_mode())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def save_checkpoint(model, folder):
    """Writes model.safetensors then config.json into `folder` (created if missing), each atomically."""
    model = getattr(model, "module", model)                       # a DDP wrapper saves its module
    os.makedirs(folder, exist_ok=True)
    state = {name: t.detach().to("cpu", torch.float32) for name, t in model.state_dict().items()}
    safetensors_io.save_file(state, os.path.join(folder, WEIGHTS), metadata={"format": "pt"})
    _write_text_atomically(os.path.join(folder, CONFIG), config_json(model.config))


def load_checkpoint(folder, map_location="cpu"):
    """The MoHCausalLM a checkpoint folder holds (eval mode)."""
    config_path, weights_path = os.path.join(folder, CONFIG), os.path.join(folder, WEIGHTS)
    for path in (config_path, weights_path):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: missing; a checkpoint folder holds {CONFIG} and {WEIGHTS}")
    config = read_config_json(config_path)
    model = MoHCausalLM(config)
    expected = model.state_dict()
    header = safetensors_io.read_header(weights_path)[0]
    missing = sorted(set(expected) - set(header))
    unexpected = sorted(set(header) - set(expected))
    if missing:
        raise CheckpointError(f"{weights_path}: parameter '{missing[0]}' is missing ({len(missing)} missing in all)")
    if unexpected:
        raise CheckpointError(f"{weights_path}: parameter '{unexpected[0]}' is not part of the model its {CONFIG} describes")
    for name, entry in header.items():
        if list(entry["shape"]) != list(expected[name].shape):
            raise CheckpointError(f"{weights_path}: parameter '{name}' has shape {entry['shape']}; the config needs {list(expected[name].shape)}")
        if entry["dtype"] != "F32":
            raise CheckpointError(f"{weights_path}: parameter '{name}' is {entry['dtype']}; checkpoints store F32")
    model.load_state_dict(safetensors_io.load_file(weights_path), strict=True)
    return model.to(map_location).eval()


__all__ = ["save_checkpoint", "load_checkpoint", "CheckpointError", "ConfigError", "WEIGHTS", "CONFIG"]
