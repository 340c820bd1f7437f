"""Imports every layer module so its @case functions register (see cases_registry.py)."""
import moh_cases  # noqa: F401
import mhmoe_cases  # noqa: F401
import block_cases  # noqa: F401
import resnet_cases  # noqa: F401
import bert_cases  # noqa: F401
import lm_cases  # noqa: F401
import dit_cases  # noqa: F401
