"""A sweep's results as tables: ``python -m reno_exp.tables <sweep dir>`` (reno_exp.tables.cli).

One module per table family (paper: the paper's Tables 1-3; parti_loo: leave one reward out on
Parti-Prompts; runs: reward totals from the records) over the jobs of a sweep and what sets each apart (jobs).
"""

from reno_exp.tables.cli import main
from reno_exp.tables.paper import T2I, TAGS, read_paper

__all__ = ["main", "read_paper", "T2I", "TAGS"]
