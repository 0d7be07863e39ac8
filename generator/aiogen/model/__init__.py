"""The model: the spec a user writes (`spec`), the Plan it resolves to (`plan`), the phases of a
rollover (`phases`), durations and names (their rules), and the problems reported about input."""
