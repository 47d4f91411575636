"""The reliability harness: load, races, crashes and bad input against a real store, shared by
``tests/test_reliability_*.py`` (small sizes) and ``report.py`` (the figures of
``docs/reliability.md``)."""
