#!/usr/bin/env python
"""Django's command-line utility for Checkpoints Admin."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "checkpoints_admin.settings")
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    # A command prints what it did; its log lines would only repeat that (LOG_LEVEL set in
    # the environment still wins).
    if command != "runserver" and not os.environ.get("LOG_LEVEL", "").strip():
        os.environ["LOG_LEVEL"] = "WARNING"
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:
        if "--traceback" in sys.argv:
            raise
        # A setting that is missing or wrong: one line that names it, not a traceback.
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
