import sys

from reno_exp.evaluate.scoring import main

sys.exit(main())
