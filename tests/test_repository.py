"""The README's commands and code are the ones CI and users run."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _bash_blocks():
    return re.findall(r"```bash\n(.*?)```", README, flags=re.S)


def test_readme_test_command_is_what_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = [b.strip() for b in _bash_blocks() if b.strip().endswith("pytest")]
    assert len(commands) == 1, "the README has exactly one test command"
    assert commands[0] in ci


def test_readme_demo_command_runs_the_demo():
    demos = [b.strip() for b in _bash_blocks() if b.strip().endswith("skseals demo")]
    assert len(demos) == 1, "the README has exactly one demo command"
    install = demos[0].rsplit("&&", 1)[0]
    assert install in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_readme_quick_start_runs():
    code = re.findall(r"```python\n(.*?)```", README, flags=re.S)[0]
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    found = int(result.stdout.split()[0])
    assert found > 30  # a rare concept of 200 rows: random labels would find ~0


def test_ruff_is_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed")
    result = subprocess.run(
        [ruff, "check", "skseals", "tests", "benchmarks", "examples"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout
