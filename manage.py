#!/usr/bin/env python
"""Django's command-line utility. Beside a running `make run` it uses that launcher's servers
and secrets (config/runenv.py), so commands in a second shell reach the running system. Unsafe
settings stop every command but `check` before it starts (config.checks)."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from config import runenv

    if notice := runenv.adopt(os.environ):
        print(notice, file=sys.stderr)
    from django.core.management import execute_from_command_line

    from config.checks import refuse_unsafe_command

    refuse_unsafe_command(sys.argv)
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
