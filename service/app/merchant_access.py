"""What only an enterprise's own merchant (through the gateway) and ops may read."""

from __future__ import annotations

from service.domain.callers import Caller, Scope, Viewer, ViewerKind
from service.domain.errors import FieldViolation, InvalidArgument, PermissionDenied


def require_own_merchant_or_ops(
    caller: Caller, viewer: Viewer | None, uscc: str, what: str
) -> None:
    """PermissionDenied (NOT_THE_MERCHANT) unless the viewer is the enterprise's merchant,
    or the caller is ops acting for nobody."""
    own_merchant = (
        viewer is not None and viewer.kind is ViewerKind.MERCHANT and viewer.merchant_uscc == uscc
    )
    if not own_merchant and not (caller.may(Scope.OPS) and viewer is None):
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
