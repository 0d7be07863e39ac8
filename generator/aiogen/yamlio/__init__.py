"""YAML in and out: bounded reads (`read`), located parsing (`parse`, `document`), pydantic
validation with located errors (`validate`), and the canonical writer (`write`)."""
