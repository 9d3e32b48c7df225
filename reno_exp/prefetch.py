"""``python -m reno_exp.prefetch [overrides]``: download every checkpoint a config needs (reno_exp.weights)."""

import sys

from reno_exp.weights.prefetch import main

if __name__ == "__main__":
    sys.exit(main())
