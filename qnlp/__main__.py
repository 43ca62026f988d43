import sys

from qnlp.cli import main

sys.exit(main())
