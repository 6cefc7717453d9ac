"""bakeoff.checks.python_check used directly: importing the user's function (how many arguments it
takes, the hash of its source, modules that would shadow installed ones) and scoring with it."""

from __future__ import annotations

import hashlib
import json
import textwrap

import pytest

from bakeoff.checks.base import CheckConfigError
from bakeoff.checks.python_check import PythonCheck, import_function, suite_modules


def test_import_function_counts_arguments_and_hashes_the_module_source(tmp_path):
    source = textwrap.dedent("""\
        def one(output):
            return "ok" in output

        def two(output, case=None):
            return 1.0

        def three(output, case, extra):
            return True
        """)
    (tmp_path / "grader_args.py").write_text(source)
    fn, nargs, sha = import_function("grader_args:one", tmp_path)
    assert fn("it is ok") is True and nargs == 1
    assert sha == hashlib.sha256(source.encode()).hexdigest()
    assert import_function("grader_args:two", tmp_path)[1] == 2
    with pytest.raises(CheckConfigError, match=r"must take \(output\) or \(output, case\)"):
        import_function("grader_args:three", tmp_path)


def test_an_installed_function_is_found_when_no_local_module_has_its_name(tmp_path):
    fn, nargs, sha = import_function("json:loads", tmp_path)
    assert fn is json.loads and nargs == 1
    with open(json.__file__, "rb") as f:
        assert sha == hashlib.sha256(f.read()).hexdigest()


def test_a_local_module_named_like_an_installed_one_is_refused(tmp_path):
    (tmp_path / "json.py").write_text("def loads(output):\n    return True\n")
    with pytest.raises(CheckConfigError, match="has the name of an installed module"):
        import_function("json:loads", tmp_path)


def test_modules_imported_from_a_suite_folder_are_listed_for_other_processes(tmp_path):
    (tmp_path / "grader_listed.py").write_text("def f(output):\n    return True\n")
    import_function("grader_listed:f", tmp_path)
    assert "grader_listed" in [m.__name__ for m in suite_modules()]


def test_a_method_path_and_a_score_with_its_detail(tmp_path):
    (tmp_path / "grader_cls.py").write_text(textwrap.dedent("""\
        class Grader:
            @staticmethod
            def words(output):
                n = len(output.split())
                return min(1.0, n / 10), f"{n} words of 10"
        """))
    check = PythonCheck(PythonCheck.Params.model_validate("grader_cls:Grader.words"), tmp_path)
    assert check.run("five words in this answer", None) == (0.5, "5 words of 10")
    assert check.identity()["function"] == "grader_cls:Grader.words"
    assert len(check.identity()["source_sha256"]) == 64


def test_a_non_callable_attribute_is_a_load_error(tmp_path):
    (tmp_path / "grader_const.py").write_text("THRESHOLD = 3\n")
    with pytest.raises(CheckConfigError, match="is not a function"):
        PythonCheck(PythonCheck.Params.model_validate("grader_const:THRESHOLD"), tmp_path)
