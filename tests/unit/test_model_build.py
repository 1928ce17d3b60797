"""Every domain model is built when its module is imported, never on first use.

pydantic's `defer_build` would move each model's build to its first use, which would take the build out
of the import of functions that validate few models. But a first use from several threads at once (the
store's overlapped reads, a cold container's first batch) then fails now and then: pydantic's rebuild
of a deferred model is not thread-safe in the versions this layer allows. Measured with 8 threads
first using the activity, session and policy models at once, in fresh processes: 15 of 100 failed
with `defer_build`, none without."""

import subprocess
import sys


def test_importing_the_models_builds_every_model() -> None:
    code = (
        "import pydantic, cme.domain.models as m; "
        "pending = [c.__name__ for c in vars(m).values() "
        "if isinstance(c, type) and issubclass(c, pydantic.BaseModel) and c.__module__ == m.__name__ "
        "and not c.__pydantic_complete__]; "
        "assert pending == [], pending"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
