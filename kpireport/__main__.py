import sys

from kpireport.cli import main

sys.exit(main())
