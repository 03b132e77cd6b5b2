"""Components whose parameters are checked before the component exists."""

from __future__ import annotations

from amaranth.lib import wiring


class ValidatedComponent(wiring.Component):
    """A :class:`~amaranth.lib.wiring.Component` that rejects bad parameters before it exists.

    Amaranth warns about every elaboratable that is created but never elaborated, so a
    constructor that raises after the object exists leaves a spurious warning behind.  Here
    the class method :meth:`validate` receives the constructor's arguments and runs before
    the object is created; ``__init__`` then only builds it.
    """

    def __new__(cls, *args, **kwargs):
        cls.validate(*args, **kwargs)
        # src_loc_at=1: the warning source (and the linter options) are the caller's.
        return super().__new__(cls, src_loc_at=1)

    @classmethod
    def validate(cls, **params) -> None:
        """Raise ``TypeError`` or ``ValueError`` for parameters the component rejects."""
