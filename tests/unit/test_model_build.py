"""The models build their validators on first use, not at import: a function's cold start pays only
for the models it validates (bench_coldstart measures the import)."""

import subprocess
import sys

import pytest

from cme.domain import models


def test_importing_the_models_builds_no_validator() -> None:
    code = (
        "import pydantic, cme.domain.models as m; "
        "built = [c.__name__ for c in vars(m).values() "
        "if isinstance(c, type) and issubclass(c, pydantic.BaseModel) and c.__pydantic_complete__]; "
        "assert built == [], built; "
        "m.DoorScan.model_validate({'scan_id': 'S1', 'room': 'R1', 'at': 1}); "
        "assert m.DoorScan.__pydantic_complete__ and not m.Activity.__pydantic_complete__, 'first use'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_deferred_model_still_refuses_what_it_refused() -> None:
    with pytest.raises(ValueError, match="ends_at must be after starts_at"):
        models.Break.model_validate({"starts_at": "2027-10-14T10:00:00-05:00", "ends_at": "2027-10-14T09:00:00-05:00"})
    with pytest.raises(ValueError, match="extra"):
        models.Break.model_validate(
            {"starts_at": "2027-10-14T09:00:00-05:00", "ends_at": "2027-10-14T10:00:00-05:00", "note": "x"}
        )
