"""Shared test options and fixtures: `--update-golden` rewrites golden files instead of comparing
them; the Hypothesis profile every property test runs under; `cli`, the command line in process."""

import pytest
from hypothesis import HealthCheck, settings

# The property tests' settings: repeatable (the same examples on every run and machine:
# derandomized, no example database), no deadline on a busy machine, no health check failing a slow
# strategy. A test takes them with its own count of examples:
#     @settings(settings.get_profile("repeatable"), max_examples=60)
settings.register_profile(
    "repeatable",
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def pytest_addoption(parser):
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite golden files (tests/golden, tests/errors/*.expected) from the current output",
    )


@pytest.fixture
def update_golden(request) -> bool:
    return request.config.getoption("--update-golden")


@pytest.fixture
def cli(capsys):
    """`nncompile ARGV...` in this process: `cli("runs", folder)` -> (exit code, stdout, stderr)."""
    from nncompile.cli import main

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run
