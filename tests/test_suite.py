"""The suite's own plumbing: the modules that share a session fixture are one
scheduling unit under ``make test`` (two xdist workers), so the fixture is made once."""

from pathlib import Path

from conftest import SHARED, group_of

TESTS = Path(__file__).resolve().parent


def test_every_shared_module_exists():
    assert all((TESTS / f"{module}.py").is_file() for module in SHARED)


def test_tests_of_a_shared_module_form_one_unit():
    ids = [
        "tests/test_hostile.py::test_time_limits[otter]",
        "tests/test_hostile.py::test_memory_limits[nbgrader]",
    ]
    assert {group_of(i) for i in ids} == {"hostile"}
    assert group_of("tests/test_browser.py::a") == group_of("tests/test_book.py::b")


def test_other_tests_are_units_of_their_own():
    a = "tests/test_weeks.py::test_week_releases_verified_and_without_leaks[w01]"
    b = "tests/test_weeks.py::test_week_releases_verified_and_without_leaks[w02]"
    assert group_of(a) == a and group_of(b) == b
