"""aiogen schema: print the JSON Schema of the topology spec (schemas/topology.schema.json)."""

from __future__ import annotations

import argparse
import sys

from aiogen.model.problems import EXIT_OK

NAME = "schema"
HELP = "print the JSON Schema of the topology spec"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser


def schema_text() -> str:
    import json

    from aiogen.model.spec import json_schema

    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def run(args: argparse.Namespace) -> int:
    del args
    sys.stdout.write(schema_text())
    return EXIT_OK
