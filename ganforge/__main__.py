from ganforge.cli import entry_point

entry_point()
