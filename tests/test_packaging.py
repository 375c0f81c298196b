"""The install commands a newcomer runs: every test tool is pinned, the run
install stays lean, and the README and CI use the same constraints."""

import configparser
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONSTRAINTS = ROOT / "requirements" / "constraints.txt"


def _name(requirement):
    """The normalised project name of a requirement line such as ``moto[server]>=5.0``."""
    name = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement).group(1)
    return re.sub(r"[-_.]+", "-", name).lower()


def _extras():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    requires = [line for line in config["options"]["install_requires"].splitlines() if line.strip()]
    extras = {key: [line for line in value.splitlines() if line.strip() and not line.startswith("#")]
              for key, value in config["options.extras_require"].items()}
    return requires, extras


def _pins():
    pins = {}
    for line in CONSTRAINTS.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            assert "==" in line, f"constraints.txt: {line!r} is not an exact pin (name==version)"
            name, version = line.split("==", 1)
            pins[_name(name)] = version
    return pins


def test_every_dependency_is_pinned_in_the_constraints():
    requires, extras = _extras()
    pins = _pins()
    missing = sorted({_name(r) for r in requires + extras["test"]} - set(pins))
    assert not missing, f"requirements/constraints.txt lacks a pin for {missing}"


def test_runtime_dependencies_keep_lower_bounds_not_pins():
    requires, _ = _extras()
    for requirement in requires:
        assert "==" not in requirement, f"setup.cfg pins a runtime dependency: {requirement}"
        assert ">=" in requirement, f"setup.cfg gives no lower bound for {requirement}"


def test_ci_and_readme_install_the_test_tools_with_the_constraints():
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "-c requirements/constraints.txt -e '.[test]'" in ci
    assert "-c requirements/constraints.txt -e '.[test]'" in readme
    # The run set-up installs the runtime alone: no test extras, no constraints.
    setup = readme[readme.index("## Set up"):readme.index("## Tests")]
    assert "python -m pip install -e .\n" in setup
    assert "[test]" not in setup


def _pytest_args(text):
    """The arguments of the first ``python -m pytest`` command in ``text``."""
    found = re.search(r"python -m pytest([^\n&|;]*)", text)
    assert found, "no python -m pytest command"
    return found.group(1).split()


def test_ci_runs_the_readmes_test_command_on_every_core():
    readme = (ROOT / "README.md").read_text()
    tests_section = readme[readme.index("## Tests"):]
    ci_args = _pytest_args((ROOT / ".ci" / "run").read_text())
    readme_args = _pytest_args(tests_section)
    # CI may only add quiet output to the README's command.
    assert [a for a in ci_args if a != "-q"] == readme_args, (ci_args, readme_args)
    assert readme_args[readme_args.index("-n") + 1] == "auto"
