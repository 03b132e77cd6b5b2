"""The quick formal checks of ``make formal`` (seconds each): CRC, executor bus rule, hidden
membrane bounds by induction, and the check that must fail.  The UART and frame receiver
checks (minutes) run only in ``make formal``."""

import pytest

from tests import formal

QUICK = ("crc", "executor_bus", "hidden_bound_theta1", "hidden_bound_leak3",
         "hidden_bound_too_tight")


@pytest.fixture(scope="module")
def tool_env():
    try:
        return formal._tool_env()
    except SystemExit as err:
        pytest.fail(str(err))


@pytest.mark.parametrize("name", QUICK)
def test_formal_check(tool_env, name, tmp_path):
    check = next(c for c in formal.checks() if c.name == name)
    status, seconds, reason = formal.run_check(check, tool_env, tmp_path)
    assert status == check.expect.upper(), f"{name}: {status} {reason}"
