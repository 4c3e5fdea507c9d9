"""A tiny pyfunc model for the tests (importable by a fresh process that loads it)."""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc


class AddN(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
    """Adds ``n`` to every input value."""

    def __init__(self, n: float) -> None:
        self.n = n

    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        return model_input + self.n
