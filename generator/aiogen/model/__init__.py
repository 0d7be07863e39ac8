"""The model: the spec a user writes (`spec`), the Plan it resolves to (`plan`), the phases of a
rollover (`phases`), durations, names and the clock (`durations`, `names`, `clock`), what a spec
field means (`fielddoc`), and the problems reported about input (`problems`)."""
