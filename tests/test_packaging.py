"""The package metadata, the pins and the conda environment agree with each other."""

import re
import sys
from pathlib import Path

import pytest
import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].strip().lower()


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _conda_dependencies():
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    return env["dependencies"]


def test_environment_yml_has_the_same_runtime_dependencies_as_pyproject():
    runtime = {_name(r): r for r in _pyproject()["project"]["dependencies"]}
    conda = {_name(d): d for d in _conda_dependencies() if isinstance(d, str)}
    for name, requirement in runtime.items():
        assert name in conda, f"{name} is a runtime dependency but missing from environment.yml"
        assert conda[name].replace(" ", "") == requirement.replace(" ", ""), (name, conda[name])


def test_environment_yml_pins_a_python_minor_and_installs_the_package_with_pip():
    deps = _conda_dependencies()
    assert any(re.fullmatch(r"python=3\.\d+", d) for d in deps if isinstance(d, str))
    pip_sections = [d["pip"] for d in deps if isinstance(d, dict) and "pip" in d]
    assert pip_sections == [["-e ."]]
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    assert env["channels"] == ["conda-forge"]


def test_every_dependency_and_extra_is_pinned_in_constraints():
    project = _pyproject()["project"]
    wanted = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        wanted += extra
    pins = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line:
            pins.setdefault(_name(line).replace("_", "-"), []).append(line)
    for requirement in wanted:
        name = _name(requirement).replace("_", "-")
        assert name in pins, f"{name} has no pin in constraints.txt"
        assert all("==" in pin for pin in pins[name]), pins[name]


def test_import_does_not_pull_in_matplotlib():
    import subprocess

    code = "import sys, kaiming_lib; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_the_package_exports_the_one_warning_its_modules_share():
    import kaiming_lib
    from kaiming_lib import init
    from kaiming_lib._validation import SuspiciousInputWarning

    assert kaiming_lib.SuspiciousInputWarning is SuspiciousInputWarning
    assert init.SuspiciousInputWarning is SuspiciousInputWarning
    assert issubclass(SuspiciousInputWarning, UserWarning)
    assert "SuspiciousInputWarning" in dir(kaiming_lib)
