"""Developer sessions: ``nox -s tests`` (the CI command), ``agree``, ``lint``, ``bench``."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = "3.11"


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The whole suite on every engine (NumPy, read-only NumPy, JAX float64 and float32)."""
    session.install("-e", ".[jax,infer,test,sbi]")
    session.run("pytest", "-q", "-p", "no:cacheprovider", *session.posargs)


@nox.session(python=PYTHON)
def tests_numpy(session: nox.Session) -> None:
    """The suite without JAX installed: the NumPy engine alone must pass."""
    session.install("-e", ".[test]")
    session.run("pytest", "-q", "-p", "no:cacheprovider", *session.posargs)


@nox.session(python=PYTHON)
def torch_sbi(session: nox.Session) -> None:
    """docs/sbi.md's store-to-PyTorch snippet with ``torch`` and ``sbi`` installed (not in ``tests``).

    PyPI's Linux torch wheel is a CUDA build (0.55 GB, plus several GB of CUDA libraries);
    ``PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu nox -s torch_sbi`` should take the
    CPU build instead (not tried here: that index is not reachable from this project's machines).
    """
    session.install("-e", ".[jax,test,sbi]", "torch", "sbi>=0.23")
    session.run("pytest", "-q", "-p", "no:cacheprovider", "tests/docs/test_sbi.py", *session.posargs)


@nox.session(python=PYTHON)
def agree(session: nox.Session) -> None:
    """NumPy vs JAX agreement in float64 for random parameters and grids."""
    session.install("-e", ".[jax,test]")
    session.run("pytest", "-q", "-m", "agree", "-p", "no:cacheprovider", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff on the package, the tests, the benchmarks and this file."""
    session.install("ruff>=0.5")
    session.run("ruff", "check", "xlens", "tests", "asv_benchmarks", "docs/scripts", "noxfile.py")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Run the asv benchmarks against the working tree (``asv run --quick`` by default)."""
    session.install("-e", ".[jax]", "asv>=0.6", "virtualenv")
    args = session.posargs or ["--quick", "--show-stderr"]
    session.chdir("asv_benchmarks")
    session.run("asv", "machine", "--yes")
    session.run("asv", "run", "--python=same", "--set-commit-hash", _head(session), *args)


def _head(session: nox.Session) -> str:
    return session.run("git", "rev-parse", "HEAD", silent=True, external=True).strip()
