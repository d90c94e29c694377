"""``python -m attention_dynamics …``: the same as the ``attention-dynamics`` command."""

import sys

from .cli import main

sys.exit(main())
