"""Report cells a spreadsheet would evaluate are neutralised; everything else is written as is."""

from __future__ import annotations

import pytest

from cme.service.reports import safe_cell

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1 555 0100", "'+1 555 0100"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("Ana Pérez", "Ana Pérez"),
        ("1.5", "1.5"),
        (None, ""),
        (90, "90"),
    ],
)
def test_safe_cell(value: object, written: str) -> None:
    assert safe_cell(value) == written
