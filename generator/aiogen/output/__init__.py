"""Rendered clusters → what the user gets: the tree layout (`layout`), one YAML stream (`stream`),
the safe writer of an output directory (`tree`, `owned`), drift against a committed tree
(`drift`), and the private-key scan every output passes (`keyscan`)."""
