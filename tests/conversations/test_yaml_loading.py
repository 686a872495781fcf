"""Questionnaire files are read through libyaml when PyYAML has it, with exactly
the result of `yaml.safe_load`, and the pure-Python loader's error messages."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conversations.schema import load_yaml, shipped_questionnaire_path

DOCUMENTS = [
    'id: x\nversion: "1"\ndeadline: 2099-12-31T23:59:00+01:00\n',
    "a: [1, 2.5, yes, no, null, ~, 0o17, 0x1F, 1e3, .inf]\n",
    "text: |\n  due righe\n  con à e ✅\nother: >\n  piegato\n  qui\n",
    "anchors: &a {k: v}\ncopy: *a\nmerged: {<<: *a, z: 1}\n",
    "- 2019-07-31\n- '007'\n- \"tab\\tand \\u00e8\"\n",
    "",
]


@pytest.mark.parametrize("source", DOCUMENTS)
def test_same_result_as_safe_load(source: str) -> None:
    assert load_yaml(source) == yaml.safe_load(source)


def test_the_shipped_questionnaire_reads_the_same() -> None:
    source = shipped_questionnaire_path().read_text(encoding="utf-8")
    assert load_yaml(source) == yaml.safe_load(source)


def test_libyaml_is_used_when_present() -> None:
    assert hasattr(yaml, "CSafeLoader")  # the wheels ship it; the speed depends on it


@pytest.mark.parametrize("source", [
    'id: mini\ntitle: {it: "Mini"\nversion: "1"\n',
    "a: b: c\n",
    "key: [unclosed\n",
    "!!python/object:os.system 'ls'\n",  # never constructed: a safe loader refuses it
])
def test_errors_are_the_pure_python_loaders(source: str) -> None:
    with pytest.raises(yaml.YAMLError) as ours:
        load_yaml(source)
    with pytest.raises(yaml.YAMLError) as theirs:
        yaml.safe_load(source)
    assert str(ours.value) == str(theirs.value)


def test_a_broken_file_is_reported_as_before(tmp_path: Path) -> None:
    from conversations.validator import lint_file

    path = tmp_path / "broken.yaml"
    path.write_text("id: mini\nitems: [a\n", encoding="utf-8")
    [problem] = lint_file(path)
    assert problem.startswith(f"{path}: YAML syntax error at line ")
