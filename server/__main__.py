import sys

from .serve_command import main

sys.exit(main())
