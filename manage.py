#!/usr/bin/env python
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cca_notices.settings")
    import getpass

    from django.core.management import execute_from_command_line

    from accounts.audit_context import AuditChannel, audit_context

    # Everything a command changes is recorded as the `command` channel, by the operator who ran
    # it (docs/operations.md, "Audit log"); the web server's requests open their own context.
    name = sys.argv[1] if len(sys.argv) > 1 else ""
    with audit_context(channel=AuditChannel.COMMAND, actor_name=f"{getpass.getuser()}: {name}"):
        execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
