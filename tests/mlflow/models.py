"""A tiny pyfunc model for the tests (importable by a fresh process that loads it)."""

from __future__ import annotations

import mlflow.pyfunc


class AddN(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
    """Adds ``n`` to every input value."""

    def __init__(self, n: float) -> None:
        self.n = n

    # No type hints on predict: MLflow would try to build a schema from them (and warn).
    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        return model_input + self.n
