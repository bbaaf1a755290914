"""A plugin whose import fails, as a broken third-party install would."""

raise ImportError("No module named 'some_missing_dependency'")
