import sys

from reno_exp.report.cli import main

sys.exit(main())
