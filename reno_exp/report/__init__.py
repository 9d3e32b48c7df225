"""One self-contained HTML page per run or sweep: ``python -m reno_exp.report <dir>`` writes ``report.html``."""
