"""How a Lambda function of this repository reads its environment (ahiops/function_environment.py): pure, no AWS."""

from __future__ import annotations

import pytest

from ahiops.function_environment import ConfigurationError, datastore_id, require, whole_number

DATASTORE = "0123456789abcdef0123456789abcdef"


def test_require_names_every_missing_or_empty_variable_at_once() -> None:
    with pytest.raises(ConfigurationError, match="lacks B, C; redeploy the stack"):
        require({"A": "x", "B": ""}, ("A", "B", "C"))


def test_datastore_id_returns_a_well_formed_id() -> None:
    assert datastore_id({"DATASTORE_ID": DATASTORE}, "DATASTORE_ID") == DATASTORE


@pytest.mark.parametrize("value", ["store", DATASTORE.upper(), DATASTORE + "\n", DATASTORE[:-1] + "é", ""])
def test_datastore_id_refuses_anything_but_32_lower_case_letters_and_digits(value: str) -> None:
    with pytest.raises(ConfigurationError, match=r"DATASTORE_ID = .* is not a data store ID"):
        datastore_id({"DATASTORE_ID": value}, "DATASTORE_ID")


def test_whole_number_defaults_when_unset_or_empty() -> None:
    assert whole_number({}, "N", 7, minimum=1) == 7
    assert whole_number({"N": ""}, "N", 7, minimum=1) == 7
    assert whole_number({"N": "12"}, "N", 7, minimum=1) == 12


@pytest.mark.parametrize("raw", ["0", "-1", "1.5", "soon", "١٢"])
def test_whole_number_refuses_values_below_the_minimum_or_not_whole(raw: str) -> None:
    with pytest.raises(ConfigurationError, match=f"N = {raw!r} is not a whole number of at least 1"):
        whole_number({"N": raw}, "N", 7, minimum=1)
