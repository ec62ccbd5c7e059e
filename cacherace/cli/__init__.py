"""The ``cacherace`` command and its subcommands."""
