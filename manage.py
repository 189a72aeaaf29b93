#!/usr/bin/env python
"""Django's command-line utility. Beside a running `make run` it uses that launcher's servers
and secrets (config/runenv.py), so commands in a second shell reach the running system."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from config import runenv

    if notice := runenv.adopt(os.environ):
        print(notice, file=sys.stderr)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
