"""The built-in repository tools read inside their directory and nowhere else: ``..``,
absolute paths and symlinks out are refused (a refusal is the model's to read, never a crash);
likewise a tool that raises or exits."""

from __future__ import annotations

import os

import pytest

from bakeoff.tools.repo import RepoTools, ToolRefused
from bakeoff.tools.toolbox import Toolbox
from bakeoff.tools.calls import make_call


@pytest.fixture()
def repo(tmp_path):
    root = tmp_path / "repo"
    (root / "app").mkdir(parents=True)
    (root / "app" / "config.py").write_text("".join(f"line {n}\n" for n in range(1, 21)) + "def parse_config(): pass\n")
    (root / "README.md").write_text("hello\n")
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "key.txt").write_text("TOP SECRET parse_config\n")
    os.symlink(secret / "key.txt", root / "link_to_key.txt")
    os.symlink(secret, root / "link_to_dir")
    os.symlink(root / "README.md", root / "app" / "readme_link.md")  # a link that stays inside is fine
    return RepoTools(root)


def test_reads_lists_and_searches_inside(repo):
    assert repo.read_file("app/config.py", 2, 3) == "2: line 2\n3: line 3"
    listed = repo.list_files(".").splitlines()
    assert "app/config.py" in listed and "README.md" in listed and "app/readme_link.md" in listed
    assert repo.search_text("def parse_config") == "app/config.py:21: def parse_config(): pass"
    assert repo.read_file("app/readme_link.md") == "1: hello"


@pytest.mark.parametrize("path", ["../secret/key.txt", "app/../../secret/key.txt", "/etc/passwd",
                                  "link_to_key.txt", "link_to_dir/key.txt", "~/x"])
def test_reading_outside_is_refused(repo, path):
    with pytest.raises(ToolRefused):
        repo.read_file(path)


@pytest.mark.parametrize("path", ["..", "/", "link_to_dir", "../secret"])
def test_listing_or_searching_outside_is_refused(repo, path):
    with pytest.raises(ToolRefused):
        repo.list_files(path)
    with pytest.raises(ToolRefused):
        repo.search_text("SECRET", path)


def test_links_out_are_neither_listed_nor_searched(repo):
    assert "link_to" not in repo.list_files(".")
    assert "SECRET" not in repo.search_text("SECRET|parse_config")


def test_a_missing_path_is_answered_with_what_is_there(repo):
    with pytest.raises(ToolRefused, match=r"'config' does not exist; the repository root holds: README.md, app/$"):
        repo.search_text("x", "config")
    with pytest.raises(ToolRefused, match=r"'app/nope.py' does not exist; 'app' holds: config.py, readme_link.md"):
        repo.read_file("app/nope.py")


def test_a_refusal_reaches_the_model_as_an_error_result(repo):
    box = Toolbox(tools=[{"name": "read_file", "parameters": {"type": "object"}}], functions=repo.functions())
    out = box.execute(make_call("c1", "read_file", '{"path": "../secret/key.txt"}'))
    assert out.text.startswith("error:") and "outside the repository" in out.text and "SECRET" not in out.text
    assert out.error.startswith("refused")


def test_a_tool_that_raises_or_exits_gives_an_error_result():
    def exits(**kwargs):
        raise SystemExit(3)

    def boom(n):
        return 1 / n

    box = Toolbox(tools=[{"name": "exits"}, {"name": "boom", "parameters": {"type": "object"}}],
                  functions={"exits": exits, "boom": boom})
    assert box.execute(make_call("c1", "exits", "{}")).error == "raised SystemExit: 3"
    out = box.execute(make_call("c2", "boom", '{"n": 0}'))
    assert out.text == "error: the tool raised ZeroDivisionError: division by zero" and out.result_bytes == 0
    wrong = box.execute(make_call("c3", "boom", '{"m": 1}'))  # arguments the function cannot take
    assert wrong.error.startswith("raised TypeError")
