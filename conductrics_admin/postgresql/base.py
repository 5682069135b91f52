"""The PostgreSQL database backend, as Django's, but for one error: on Citus a unique
violation found while rows are copied to a worker (an INSERT ... SELECT the coordinator
runs) arrives as XX000, an internal error, where PostgreSQL says 23505. Both are raised
as IntegrityError here, so that every path that settles a race by a unique key (the
agent-api's write, links, replays) works the same on Citus (accounts.distribution)."""

from types import TracebackType

from django.db.backends.postgresql import base
from django.db.utils import DatabaseErrorWrapper, IntegrityError
from django.utils.functional import cached_property

UNIQUE_VIOLATION_TEXT = "duplicate key value violates unique constraint"


class _ErrorWrapper(DatabaseErrorWrapper):
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if (
            exc_value is not None
            and getattr(exc_value, "sqlstate", None) == "XX000"
            and UNIQUE_VIOLATION_TEXT in str(exc_value)
        ):
            raise IntegrityError(*exc_value.args).with_traceback(traceback) from exc_value
        return super().__exit__(exc_type, exc_value, traceback)


class DatabaseWrapper(base.DatabaseWrapper):
    @cached_property
    def wrap_database_errors(self) -> DatabaseErrorWrapper:
        return _ErrorWrapper(self)
