"""``python -m projects_emulator`` is the ``projects-emulator`` command."""

from projects_emulator.cli import main

raise SystemExit(main())
