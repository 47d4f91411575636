"""Alembic migrations of the shuangsuiji store (run through ``Store.upgrade()``)."""
