"""One code-to-class table: what the server answers is what the client raises back."""

from __future__ import annotations

import pytest

from makerkit.client import error_from
from makerkit.core import DataError, RejectReason, UnknownOrder, rejection
from makerkit.core.errors import ERROR_CODES, VenueError
from makerkit.server._errors import status_for


@pytest.mark.parametrize("code", sorted(ERROR_CODES))
def test_every_code_round_trips_to_its_class(code: str) -> None:
    cls = ERROR_CODES[code]
    _, answered = status_for(cls("boom"))
    assert answered == code
    back = error_from(answered, "boom")
    assert type(back) is cls and str(back) == "boom"


@pytest.mark.parametrize("reason", [r for r in RejectReason if r.name not in ERROR_CODES])
def test_every_rejection_round_trips_with_its_reason(reason: RejectReason) -> None:
    exc = rejection(reason, "no")
    status, code = status_for(exc)
    back = error_from(code, "no")
    assert type(back) is type(exc) and back.reason is reason  # type: ignore[attr-defined]
    assert status in (404, 422)


def test_bad_data_and_internal_are_no_longer_config_errors() -> None:
    assert type(error_from("BAD_DATA", "x")) is DataError
    assert type(error_from("INTERNAL", "x")) is VenueError
    assert status_for(KeyError("bug")) == (500, "INTERNAL")
    assert isinstance(error_from("UNKNOWN_ORDER", "x"), UnknownOrder)
