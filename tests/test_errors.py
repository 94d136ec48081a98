"""Errors a user can act on (flowcap.errors): each problem names the file, row and column."""

from __future__ import annotations

from flowcap.errors import MAX_PROBLEMS_PER_FILE, InputError, Problem, capped


def test_a_problem_says_where_it_is_as_far_as_it_is_known():
    assert str(Problem("referrals.csv", "missing date", 3, "referral_date")) == (
        "referrals.csv, row 3, column referral_date: missing date"
    )
    assert (
        str(Problem("service.yaml", "not valid YAML", 2)) == "service.yaml, row 2: not valid YAML"
    )
    assert str(Problem("waiting.csv", "file is empty")) == "waiting.csv: file is empty"


def test_an_input_error_carries_every_problem_one_a_line():
    problems = [Problem("a.csv", "first", 2), Problem("b.csv", "second")]
    error = InputError(problems)
    assert error.problems == problems
    assert str(error) == "a.csv, row 2: first\nb.csv: second"


def test_past_the_cap_the_rest_of_a_files_problems_are_one_line():
    few = [Problem("a.csv", f"bad {i}", i + 2) for i in range(MAX_PROBLEMS_PER_FILE)]
    assert capped(few, "a.csv") == few
    many = few + [Problem("a.csv", "bad", 99)] * 3
    kept = capped(many, "a.csv")
    assert kept[:-1] == few
    assert str(kept[-1]) == "a.csv: ... and 3 more problems in this file"
