"""PyTorch twin of Microsoft.ML.MixtureHeads' causal LM: model, safetensors checkpoints, DDP training."""
from .config import LMConfig, MoEConfig, ConfigError
from .model import MoHCausalLM
from .checkpoint import save_checkpoint, load_checkpoint, CheckpointError

__all__ = ["LMConfig", "MoEConfig", "ConfigError", "MoHCausalLM", "save_checkpoint", "load_checkpoint", "CheckpointError"]
