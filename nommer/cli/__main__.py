import sys

from nommer.cli import main

sys.exit(main())
