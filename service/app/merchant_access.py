"""What only an enterprise's own merchant (through the gateway) and ops may read."""

from __future__ import annotations

from service.domain.callers import Caller, Scope, Viewer, ViewerKind
from service.domain.errors import FieldViolation, InvalidArgument, PermissionDenied


def is_own_merchant(viewer: Viewer | None, uscc: str) -> bool:
    return (
        viewer is not None and viewer.kind is ViewerKind.MERCHANT and viewer.merchant_uscc == uscc
    )


def require_own_merchant(viewer: Viewer | None, uscc: str, what: str) -> Viewer:
    """The viewer, if it is the enterprise's own merchant; PermissionDenied (NOT_THE_MERCHANT)
    otherwise. what: what only the merchant does ("disputes its items")."""
    if viewer is None or not is_own_merchant(viewer, uscc):
        raise PermissionDenied(
            f"only the enterprise's own merchant {what}", reason="NOT_THE_MERCHANT"
        )
    return viewer


def require_own_merchant_or_ops(
    caller: Caller, viewer: Viewer | None, uscc: str, what: str
) -> None:
    """PermissionDenied (NOT_THE_MERCHANT) unless the viewer is the enterprise's merchant,
    or the caller is ops acting for nobody."""
    if not is_own_merchant(viewer, uscc) and not (caller.may(Scope.OPS) and viewer is None):
        raise PermissionDenied(
            f"only the enterprise's own merchant and ops read its {what}",
            reason="NOT_THE_MERCHANT",
        )


def page_size_of(requested: int, default: int, most: int) -> int:
    if requested < 0:
        raise InvalidArgument(
            [FieldViolation("page_size", "must not be negative", "PAGE_SIZE_NEGATIVE")]
        )
    return min(requested or default, most)
