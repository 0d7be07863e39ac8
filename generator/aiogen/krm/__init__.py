"""aiogen as a KRM function (kustomize, kpt) and as a legacy kustomize exec plugin."""

from aiogen.krm.function import main

__all__ = ["main"]
