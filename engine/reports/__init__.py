"""Reports: metric definitions (metrics.py), what each count takes (counting.py), SQL counts (queries.py),
daily pre-aggregates (rollup.py, timeline.py), the six reports (builders.py), text/CSV (render.py), CLI (cli.py)."""
