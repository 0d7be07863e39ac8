"""Problems as ResourceList ``results``: what kpt shows and writes to ``--results-dir``.

A result names the object a field path belongs to (``resourceRef``): the Topology when the problem
is in the spec a RenderConfig names, else the function config. ``file`` is given only for a file
the user wrote, relative to the base directory.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from aiogen.krm.config import API_VERSION, Ref, Request
from aiogen.krm.source import load_small
from aiogen.model.problems import Problem


def results(problems: Iterable[Problem], request: Request | None, config_ref: Ref | None) -> list[dict[str, Any]]:
    return [_result(problem, request, config_ref) for problem in problems]


def _result(problem: Problem, request: Request | None, config_ref: Ref | None) -> dict[str, Any]:
    message = f"{problem.message} ({problem.hint})" if problem.hint else problem.message
    result: dict[str, Any] = {"message": message, "severity": problem.severity}
    ref = _ref_for(problem, request) or (config_ref if config_ref is not None and config_ref.kind else None)
    if ref is not None:
        result["resourceRef"] = ref.as_result()
        if problem.path:
            result["field"] = {"path": problem.path}
    loc = problem.location
    if loc is not None and loc.file and not loc.file.startswith(("<", "functionConfig")) \
            and not os.path.isabs(loc.file):
        result["file"] = {"path": loc.file.replace(os.sep, "/")}
        if loc.line is not None:
            result["tags"] = {"line": str(loc.line), **({"column": str(loc.column)} if loc.column else {})}
    return result


def _ref_for(problem: Problem, request: Request | None) -> Ref | None:
    if request is None:
        return None
    in_spec = request.topology_path is not None and problem.location is not None \
        and problem.location.file == request.topology_display
    if in_spec:
        return request.spec_ref or Ref(API_VERSION, "Topology", _spec_name(request.topology_path))
    return request.config_ref


def _spec_name(path: Path | None) -> str:
    """metadata.name of a spec that failed to load (best effort, for resourceRef only)."""
    data = load_small(path) if path is not None else None
    metadata = data.get("metadata") if isinstance(data, Mapping) else None
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    return str(name) if isinstance(name, str) else ""
