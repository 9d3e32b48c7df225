import sys

from reno_exp.tables.cli import main

sys.exit(main())
