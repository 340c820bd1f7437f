"""Runs reference cases for the C# parity tests.

    /usr/bin/python3 run_cases.py CASES.json INPUTS.mhtb OUTPUTS.mhtb

CASES.json is a list of objects, each with an "op" (a function registered with @case) and its settings.
Case i reads the tensors named "i/<name>" from INPUTS and writes "i/<name>" to OUTPUTS.
"""
import json
import sys

import torch

import cases_registry
from tensorbundle import read_bundle, write_bundle

# Importing a module registers its cases.
import ops_cases  # noqa: F401
import layer_cases  # noqa: F401
import optimizer_cases  # noqa: F401


def main(cases_path, inputs_path, outputs_path):
    torch.set_num_threads(1)
    with open(cases_path) as f:
        cases = json.load(f)
    inputs = read_bundle(inputs_path)
    outputs = {}
    for index, case in enumerate(cases):
        prefix = f"{index}/"
        tensors = {k[len(prefix):]: torch.from_numpy(v) for k, v in inputs.items() if k.startswith(prefix)}
        op = case["op"]
        if op not in cases_registry.CASES:
            raise KeyError(f"unknown reference op '{op}'")
        result = cases_registry.CASES[op](case, tensors)
        for name, value in result.items():
            outputs[prefix + name] = value.detach().cpu().numpy() if torch.is_tensor(value) else value
    write_bundle(outputs_path, outputs)


if __name__ == "__main__":
    main(*sys.argv[1:4])
