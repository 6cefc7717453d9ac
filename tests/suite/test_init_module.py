"""bakeoff.suite.init used directly: the starter files name the installed packaged models, load
as a valid suite, and are never written over without force."""

from __future__ import annotations

import pytest

from bakeoff.errors import InputError
from bakeoff.suite import load_suite
from bakeoff.suite.init import PREFERRED, starter_contenders, write_starter


def test_the_starter_names_installed_chat_models_and_loads_as_a_suite(tmp_path, smollm2):
    contenders = starter_contenders()
    assert "smollm2-135m" in contenders and len(contenders) <= 2
    assert contenders == [a for a in PREFERRED if a in contenders]  # small chat models first
    written = write_starter(tmp_path / "new")
    assert [p.name for p in written] == ["bakeoff.yaml", "startchecks.py"]
    suite = load_suite(written[0])
    assert [ref.spec.model for ref in suite.contenders] == contenders
    assert all(ref.spec.options == {"threads": 2} for ref in suite.contenders)
    assert {"capital", "pens", "extract", "add-runs"} <= {c.id for c in suite.cases}


def test_existing_files_are_kept_unless_forced(tmp_path, smollm2):
    (tmp_path / "startchecks.py").write_text("# mine\n")
    with pytest.raises(InputError, match="startchecks.py already exists; bakeoff init --force"):
        write_starter(tmp_path)
    assert (tmp_path / "startchecks.py").read_text() == "# mine\n" and not (tmp_path / "bakeoff.yaml").exists()
    write_starter(tmp_path, force=True)
    assert "def one_sentence" in (tmp_path / "startchecks.py").read_text()
