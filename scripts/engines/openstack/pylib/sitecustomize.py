"""Loaded by every Python process of up.sh's stack (PYTHONPATH): SQLite transactions start with
BEGIN IMMEDIATE.

oslo.db starts SQLite transactions with a plain (deferred) BEGIN. A transaction that reads and
then writes must upgrade its lock; when another process wrote in between, SQLite answers
"database is locked" at once, without waiting for the busy timeout (its deadlock avoidance).
Nova's processes (api, conductor, scheduler, compute through the conductor) share nova.db and hit
that under load: a server stayed in BUILD/scheduling, another in task_state deleting, for good.
BEGIN IMMEDIATE takes the write lock up front, so a transaction waits (busy timeout: the
`?timeout=60` of the database URLs) instead of failing. It serialises transactions per database,
which a one-machine test cloud can afford.

The listener is installed when SQLAlchemy is first imported, not here: importing it in every
process (uWSGI's masters and routers too) cost ~100 MiB.
"""

import importlib.abc
import importlib.util
import sys


def _install():
    import sqlalchemy.event
    from sqlalchemy.engine import Engine

    @sqlalchemy.event.listens_for(Engine, "begin")
    def _tars_begin_immediate(conn):
        # Runs before oslo.db's own "begin" listener (class-level listeners fire first); oslo.db
        # then sees the transaction started and emits no BEGIN of its own.
        if conn.dialect.name == "sqlite" and "in_transaction" not in conn.info:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            conn.info["in_transaction"] = True


class _AfterSqlalchemy(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != "sqlalchemy":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_install(module):
            exec_module(module)
            _install()

        spec.loader.exec_module = exec_then_install
        return spec


sys.meta_path.insert(0, _AfterSqlalchemy())
