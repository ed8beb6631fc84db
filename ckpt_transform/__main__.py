"""``python -m ckpt_transform``: the same command line as ``ckpt-transform``."""

import sys

from ckpt_transform.cli import main

sys.exit(main(prog="python -m ckpt_transform"))
