"""The LM's configuration: the same record and JSON as .NET's CausalLMConfig (Microsoft.ML.MixtureHeads.Models).

config.json in a checkpoint folder:
    {"format": "Microsoft.ML.MixtureHeads.CausalLM", "format_version": 1, "kind": "causal_lm", "config": {...}}
where "config" holds CausalLMConfig's properties under their .NET names (Dim, Depth, Heads, Routing, ...), enums by
name, and "MoE" (or null) MultiHeadMoEOptions' properties. Unknown keys are errors, so a typo never goes unnoticed.
"""
from dataclasses import dataclass, fields, asdict
from typing import Optional
import json

FORMAT = "Microsoft.ML.MixtureHeads.CausalLM"
FORMAT_VERSION = 1
KIND = "causal_lm"

ROUTINGS = ("Dense", "Learned", "ParameterFree")
FEED_FORWARDS = ("SwiGLU", "MultiHeadMoE")
LINEARS = ("Dense", "BitLinear")


class ConfigError(ValueError):
    """A config.json (or config value) that cannot describe a model; the message names the file and the key."""


@dataclass
class MoEConfig:
    """An expert feed-forward layer (MH-MoE; Heads = 1 without projections is a plain or fine-grained SMoE)."""
    Experts: int
    ExpertHidden: int
    Heads: int = 1
    TopK: int = 1
    HeadProjections: Optional[bool] = None       # None: Heads > 1
    CapacityFactor: Optional[float] = None       # None: dropless (the only kind this module runs)
    RenormalizeTopK: bool = False
    ExpertLinear: str = "Dense"
    Dim: int = 0                                 # 0: the block width

    @property
    def uses_head_projections(self):
        return self.HeadProjections if self.HeadProjections is not None else self.Heads > 1


@dataclass
class LMConfig:
    """A decoder-only MoH LM. Property names are .NET's so that config.json reads the same on both sides."""
    Dim: int = 128
    Depth: int = 4
    Heads: int = 8
    Routing: str = "Learned"
    SharedHeads: int = 2
    RoutedTopK: int = 4
    TwoStageRouting: bool = True
    MlpRatio: float = 2.0
    FeedForward: str = "SwiGLU"
    MoE: Optional[MoEConfig] = None
    Linear: str = "Dense"
    AttentionDropout: float = 0.0
    VocabularySize: int = 257
    MaxLength: int = 256
    MoEInterval: int = 1
    TieEmbeddings: bool = True
    RotaryTheta: float = 10000.0
    NormEps: float = 1e-6

    # --- derived values, as .NET derives them -------------------------------------------------------------------
    @property
    def shared_heads(self):
        return 0 if self.Routing == "Dense" else self.SharedHeads

    @property
    def routed_top_k(self):
        return 0 if self.Routing == "Dense" else self.RoutedTopK

    @property
    def head_dim(self):
        return self.Dim // self.Heads

    @property
    def hidden(self):
        return int(round(self.Dim * self.MlpRatio))       # round half to even, as .NET's Math.Round

    def has_experts(self, index):
        return self.FeedForward == "MultiHeadMoE" and (index + 1) % self.MoEInterval == 0

    def validate(self, where="LMConfig"):
        def require(ok, key, problem):
            if not ok:
                raise ConfigError(f"{where}: {key} {problem}")
        require(self.Routing in ROUTINGS, "Routing", f"must be one of {ROUTINGS}, got {self.Routing!r}")
        require(self.FeedForward in FEED_FORWARDS, "FeedForward", f"must be one of {FEED_FORWARDS}, got {self.FeedForward!r}")
        require(self.Linear in LINEARS, "Linear", f"must be one of {LINEARS}, got {self.Linear!r}")
        require(self.VocabularySize >= 2, "VocabularySize", f"must be at least 2, got {self.VocabularySize}")
        require(self.MaxLength >= 1, "MaxLength", f"must be at least 1, got {self.MaxLength}")
        require(self.Depth >= 1, "Depth", f"must be at least 1, got {self.Depth}")
        require(self.Heads >= 1 and self.Dim % self.Heads == 0, "Heads", f"({self.Heads}) must divide Dim ({self.Dim})")
        require(self.head_dim % 2 == 0, "Heads", f"({self.Heads}) gives heads of width {self.head_dim}; rotary needs an even width")
        require(self.MoEInterval >= 1, "MoEInterval", f"must be at least 1, got {self.MoEInterval}")
        require(self.MlpRatio > 0, "MlpRatio", f"must be positive, got {self.MlpRatio}")
        require(self.RotaryTheta > 1, "RotaryTheta", f"must be above 1, got {self.RotaryTheta}")
        require(self.NormEps >= 0, "NormEps", f"must be non-negative, got {self.NormEps}")
        require(0 <= self.AttentionDropout < 1, "AttentionDropout", f"must lie in [0, 1), got {self.AttentionDropout}")
        if self.Routing != "Dense":
            require(0 <= self.SharedHeads <= self.Heads, "SharedHeads", f"must lie in [0, Heads={self.Heads}], got {self.SharedHeads}")
            require(0 <= self.RoutedTopK <= self.Heads - self.SharedHeads, "RoutedTopK",
                    f"must lie in [0, Heads - SharedHeads = {self.Heads - self.SharedHeads}], got {self.RoutedTopK}")
            require(self.SharedHeads + self.RoutedTopK >= 1, "SharedHeads", "plus RoutedTopK must be at least 1")
        if self.Routing == "ParameterFree":
            require(self.Heads - self.SharedHeads >= 2 and self.RoutedTopK >= 1, "RoutedTopK",
                    "parameter-free routing needs at least 2 routed heads and RoutedTopK >= 1")
        if self.FeedForward == "MultiHeadMoE":
            m = self.MoE
            require(m is not None, "MoE", "must be set when FeedForward is MultiHeadMoE")
            require(m.Dim in (0, self.Dim), "MoE.Dim", f"must be 0 or Dim ({self.Dim}), got {m.Dim}")
            require(m.Heads >= 1 and self.Dim % m.Heads == 0, "MoE.Heads", f"({m.Heads}) must divide Dim ({self.Dim})")
            require(m.Experts >= 1, "MoE.Experts", f"must be at least 1, got {m.Experts}")
            require(1 <= m.TopK <= m.Experts, "MoE.TopK", f"must lie in [1, Experts={m.Experts}], got {m.TopK}")
            require(m.ExpertHidden >= 1, "MoE.ExpertHidden", f"must be at least 1, got {m.ExpertHidden}")
            require(m.ExpertLinear in LINEARS, "MoE.ExpertLinear", f"must be one of {LINEARS}, got {m.ExpertLinear!r}")
            require(m.CapacityFactor is None, "MoE.CapacityFactor",
                    "must be null: this PyTorch module runs dropless expert layers only")
        return self

    # --- JSON -----------------------------------------------------------------------------------------------------
    def to_dict(self):
        return asdict(self)

    @staticmethod
    def from_dict(d, where="config"):
        if not isinstance(d, dict):
            raise ConfigError(f"{where}: expected a JSON object, got {type(d).__name__}")
        known = {f.name for f in fields(LMConfig)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {unknown}; known: {sorted(known)}")
        values = dict(d)
        moe = values.get("MoE")
        if moe is not None:
            if not isinstance(moe, dict):
                raise ConfigError(f"{where}: MoE must be an object or null")
            moe_known = {f.name for f in fields(MoEConfig)}
            moe_unknown = sorted(set(moe) - moe_known)
            if moe_unknown:
                raise ConfigError(f"{where}: unknown key(s) MoE.{moe_unknown}; known: {sorted(moe_known)}")
            try:
                values["MoE"] = MoEConfig(**moe)
            except TypeError as e:
                raise ConfigError(f"{where}: MoE: {e}") from e
        config = LMConfig(**values)
        _check_types(config, where)
        return config.validate(where)


def _check_types(config, where):
    expected = {"Dim": int, "Depth": int, "Heads": int, "SharedHeads": int, "RoutedTopK": int, "VocabularySize": int,
                "MaxLength": int, "MoEInterval": int, "MlpRatio": (int, float), "RotaryTheta": (int, float),
                "NormEps": (int, float), "AttentionDropout": (int, float), "TieEmbeddings": bool,
                "Routing": str, "FeedForward": str, "Linear": str}
    for key, kind in expected.items():
        value = getattr(config, key)
        if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
            raise ConfigError(f"{where}: {key} must be {kind}, got {value!r}")


def config_json(config):
    """The checkpoint's config.json text for `config` (written by checkpoint.save_checkpoint)."""
    return json.dumps({"format": FORMAT, "format_version": FORMAT_VERSION, "kind": KIND, "config": config.to_dict()},
                      indent=2)


def read_config_json(path):
    """The LMConfig of a checkpoint's config.json; ConfigError naming the file and key on any problem."""
    try:
        with open(path, "r", encoding="utf-8") as f:
            doc = json.load(f)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}: not valid JSON ({e})") from e
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    if doc.get("format") != FORMAT:
        raise ConfigError(f"{path}: format is {doc.get('format')!r}, expected {FORMAT!r}")
    if doc.get("format_version") != FORMAT_VERSION:
        raise ConfigError(f"{path}: format_version {doc.get('format_version')!r}; this module reads {FORMAT_VERSION}")
    if doc.get("kind") != KIND:
        raise ConfigError(f"{path}: kind {doc.get('kind')!r}, expected {KIND!r}")
    if "config" not in doc:
        raise ConfigError(f"{path}: no 'config' object")
    return LMConfig.from_dict(doc["config"], where=path)
