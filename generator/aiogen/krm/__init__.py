"""aiogen as a KRM function (kustomize, kpt) and as a legacy kustomize exec plugin.

`process` is the function (ResourceList in, ResourceList out); `function` adapts it to stdin and
stdout, `legacy` to kustomize's legacy exec plugins; `resourcelist` reads and writes the
ResourceList, `config` turns a function config into a render request, `source` finds the config's
own file for located messages, `results` turns problems into results.
"""

from aiogen.krm.function import main

__all__ = ["main"]
