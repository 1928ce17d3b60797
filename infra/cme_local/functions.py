"""Run the template's functions in-process with a Lambda-shaped context. Each invocation runs in a
container: a copy of the function's module with globals of its own, used by one invocation at a time
(as a Lambda execution environment is). A function has as many containers as it is given (queue
consumers get two, so two batches of one queue run side by side, as Lambda's poller scales out)."""

from __future__ import annotations

import importlib.util
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from cme_local.provision import ACCOUNT, REGION, FunctionSpec


@dataclass
class LambdaContext:
    function_name: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class FunctionHost:
    def __init__(
        self,
        root: Path,
        specs: dict[str, FunctionSpec],
        *,
        http_functions: frozenset[str] = frozenset(),
        containers: dict[str, int] | None = None,
    ):
        """`http_functions` take turns with one another in one container each: Powertools keeps the
        request being handled on a class attribute every HTTP resolver in a process shares (Lambda
        gives each event a process of its own), so two of them running at once here could read each
        other's request. `containers` gives other functions more than one container."""
        self.root = root
        self.specs = specs
        self._modules: dict[str, ModuleType] = {}  # each function's first container
        self._free: dict[str, list[ModuleType]] = {name: [] for name in specs}
        self._made: dict[str, int] = dict.fromkeys(specs, 0)
        self._containers_lock = threading.Lock()
        self._counts_lock = threading.Lock()
        self._slot_counts = {
            name: 1 if name in http_functions else max(1, (containers or {}).get(name, 1)) for name in specs
        }
        shared = threading.Semaphore(1)
        self._slots = {
            name: shared if name in http_functions else threading.Semaphore(count)
            for name, count in self._slot_counts.items()
        }
        self.invocations: dict[str, int] = dict.fromkeys(specs, 0)
        self.busy_seconds: dict[str, float] = dict.fromkeys(specs, 0.0)  # time spent inside each function
        self.chaos: Any = None  # a chaos.FaultInjector when faults are switched on
        self.duplicate_deliveries = False  # the pollers deliver every message and stream batch twice

    def _load(self, logical_id: str, number: int) -> ModuleType:
        spec = self.specs[logical_id]
        module_name, _ = spec.handler.rsplit(".", 1)
        path = self.root / "functions" / spec.folder / f"{module_name}.py"
        import_name = f"cme_fn_{spec.folder}" + (f"__{number}" if number else "")
        loader = importlib.util.spec_from_file_location(import_name, path)
        if loader is None or loader.loader is None:
            raise ImportError(path)
        module = importlib.util.module_from_spec(loader)
        sys.modules[import_name] = module
        loader.loader.exec_module(module)
        return module

    def _module(self, logical_id: str) -> ModuleType:
        """The function's first container (made on first use)."""
        with self._containers_lock:
            if logical_id not in self._modules:
                self._modules[logical_id] = self._load(logical_id, 0)
                self._made[logical_id] = 1
                self._free[logical_id].append(self._modules[logical_id])
            return self._modules[logical_id]

    def _take(self, logical_id: str) -> ModuleType:
        """A container nobody is using: a free one, else a new one (the slot taken bounds how many)."""
        self._module(logical_id)
        with self._containers_lock:
            free = self._free[logical_id]
            if free:
                return free.pop()
            number = self._made[logical_id]
            self._made[logical_id] = number + 1
            return self._load(logical_id, number)

    def slots(self, logical_id: str) -> int:
        """How many invocations of the function may run at once (HTTP functions: one among them all)."""
        return self._slot_counts[logical_id]

    def containers(self, logical_id: str) -> int:
        """How many containers the function has made so far."""
        return self._made[logical_id]

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        spec = self.specs[logical_id]
        with self._slots[logical_id]:
            module = self._take(logical_id)
            try:
                handler = getattr(module, spec.handler.rsplit(".", 1)[1])
                with self._counts_lock:
                    self.invocations[logical_id] += 1
                started = time.perf_counter()
                try:
                    return self._run(logical_id, handler, event)
                finally:
                    with self._counts_lock:
                        self.busy_seconds[logical_id] += time.perf_counter() - started
            finally:
                with self._containers_lock:
                    self._free[logical_id].append(module)

    def _run(self, logical_id: str, handler: Any, event: dict[str, Any]) -> Any:
        spec = self.specs[logical_id]
        context = LambdaContext(
            function_name=f"cme-local-{spec.folder}", memory_limit_in_mb=spec.memory, timeout_seconds=spec.timeout
        )
        if self.chaos is None:
            return handler(event, context)
        from cme_local.chaos import IN_FUNCTION

        token = IN_FUNCTION.set(logical_id)
        try:
            self.chaos.before_invoke(logical_id)
            result = handler(event, context)
            self.chaos.after_invoke(logical_id)
            return result
        finally:
            IN_FUNCTION.reset(token)
