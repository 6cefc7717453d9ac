"""`bakeoff init` never overwrites a user's files. (That its suite validates and runs as written is
tested through the README's first-bake-off steps, in test_docs.py.)"""

from conftest import bakeoff


def test_init_never_overwrites(tmp_path, smollm2):
    (tmp_path / "bakeoff.yaml").write_text("cases: []\n")
    proc = bakeoff("init", cwd=tmp_path)
    assert proc.returncode == 2 and "already exists" in proc.stderr and "--force" in proc.stderr
    assert (tmp_path / "bakeoff.yaml").read_text() == "cases: []\n"
    assert bakeoff("init", "--force", cwd=tmp_path).returncode == 0
    assert "contenders:" in (tmp_path / "bakeoff.yaml").read_text()
