"""Every ``examples/plot_*.py`` runs as a script, so none can go stale.

Each example runs in its own subprocess (``MPLBACKEND=Agg``, in a temporary
working directory) and must use less than a minute of CPU time (the issue asks
for under a minute on two cores; CPU time, unlike wall time, does not grow when
other jobs load the machine). The selected examples are started together, two at a
time, when the first of these tests runs: most of an example's time is
single-threaded Python, so two share the two cores of CI well. BLAS and OpenMP
are capped at one thread per process, which avoids oversubscription (faiss
and numpy each bring an OpenMP runtime; on a busy machine their spinning
threads made examples 2-3x slower).
"""

import ast
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = sorted(EXAMPLES.glob("plot_*.py"))
TIMEOUT = 300  # seconds of wall time per example, for a hung example
CPU_BUDGET = 60.0  # seconds of CPU time (user + system) per example
# Runs the example as ``__main__`` and reports the process's CPU time last.
_RUNNER = """
import atexit, runpy, sys
try:
    import resource  # Unix only
except ImportError:
    resource = None
def _report():
    r = resource.getrusage(resource.RUSAGE_SELF)
    sys.stderr.write(f"\\nCPU_SECONDS {r.ru_utime + r.ru_stime:.2f}\\n")
if resource is not None:
    atexit.register(_report)
sys.argv = [sys.argv[1]]
runpy.run_path(sys.argv[0], run_name="__main__")
"""
_THREADS = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                             "MKL_NUM_THREADS")}  # fmt: skip


def _run(script, workdir):
    env = {**os.environ, "MPLBACKEND": "Agg", **_THREADS}
    env["PYTHONWARNINGS"] = "ignore::UserWarning:matplotlib"  # plt.show() on Agg
    return subprocess.run(
        [sys.executable, "-c", _RUNNER, str(script)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


@pytest.fixture(scope="module")
def runs(request, tmp_path_factory):
    """Start every selected example at once (2 workers); name -> future."""
    pytest.importorskip("matplotlib")  # every example draws
    selected = [
        item.callspec.params["script"]
        for item in request.session.items
        if getattr(item, "originalname", None) == "test_example_runs"
        and hasattr(item, "callspec")
    ]
    pool = ThreadPoolExecutor(max_workers=2)
    futures = {
        s.name: pool.submit(_run, s, tmp_path_factory.mktemp(s.stem)) for s in selected
    }
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_example_runs(script, runs):
    proc = runs[script.name].result()
    assert proc.returncode == 0, (
        f"{script.name} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    )
    if "CPU_SECONDS" not in proc.stderr:
        return  # no resource module (Windows): runs, but is not timed
    cpu = float(proc.stderr.rsplit("CPU_SECONDS", 1)[1])
    assert cpu < CPU_BUDGET, f"{script.name} used {cpu:.0f} s of CPU: keep it < 1 min"


def test_there_are_examples():
    names = {s.stem for s in SCRIPTS}
    for name in ("plot_quickstart", "plot_active_search", "plot_compare_strategies",
                 "plot_shared_index", "plot_backends", "plot_tight_budget",
                 "plot_resumable_session"):  # fmt: skip
        assert name in names
    assert (EXAMPLES / "README.txt").exists()  # the sphinx-gallery header


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_example_is_gallery_ready(script):
    """A reST title in the module docstring; no download of any kind."""
    source = script.read_text(encoding="utf-8")
    doc = ast.get_docstring(ast.parse(source), clean=False)
    assert doc, f"{script.name} has no module docstring"
    lines = doc.strip("\n").splitlines()
    over, title, under = lines[0], lines[1], lines[2]
    assert set(over) == {"="} and over == under and len(under) >= len(title), (
        f"{script.name}: the docstring must start with a title framed by '=' "
        "lines at least as long as the title"
    )
    for forbidden in ("urllib", "requests", "fetch_", "urlretrieve", "http://",
                      "https://", "hf_hub", "load_dataset("):  # fmt: skip
        assert forbidden not in source, f"{script.name} mentions {forbidden!r}"
