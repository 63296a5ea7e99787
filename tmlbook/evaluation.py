"""L14: paired bootstrap, McNemar, random search, contamination, Ladder."""
