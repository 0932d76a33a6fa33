"""What the legal representative's authorisation allows, beyond verifying the enterprise.

An authorisation names its scopes, and each governs one use of the verification and of
the legal representative's personal data:

- identity_verification: checking the licence and the legal representative with the
  registry. Required: a verification is refused without it (submission.py).
- archive: using the legal representative in the enterprise archive, that is showing
  them (masked) in archive responses and so recording them as disclosed.
- integrity_level: using the verification in the integrity level (its identity factor).

The authorisation in force for the archive is the one recorded with the enterprise's
latest VERIFIED verification at the time read: that is the one whose legal representative
matched the registry's, so the only one that speaks for the person the archive shows. The
level uses the latest verification, and its authorisation. Where a scope is missing the use
does not happen and the answer says so, with AUTHORIZATION_SCOPE_MISSING and the scope.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from service.domain.verification import AuthorisationScope
from service.domain.visibility import ArchiveView, FieldGroup

SCOPE_MISSING = "AUTHORIZATION_SCOPE_MISSING"

# The field groups that carry the legal representative's personal data, and the scope each
# needs. Every other group comes from registries, lists and platforms, not from the person.
GROUP_SCOPES: Mapping[FieldGroup, AuthorisationScope] = {
    FieldGroup.LEGAL_REPRESENTATIVE: AuthorisationScope.ARCHIVE,
}


@dataclass(frozen=True)
class Withheld:
    """A field group the view allowed but the authorisation does not."""

    group: FieldGroup
    reason: str
    missing_scope: AuthorisationScope


def needs_authorisation(view: ArchiveView) -> bool:
    return any(group in view.groups for group in GROUP_SCOPES)


def withhold_unauthorised(
    view: ArchiveView, granted: frozenset[AuthorisationScope]
) -> tuple[ArchiveView, tuple[Withheld, ...]]:
    """The view narrowed to what the granted scopes allow, and what was left out."""
    withheld = tuple(
        Withheld(group, SCOPE_MISSING, scope)
        for group, scope in GROUP_SCOPES.items()
        if group in view.groups and scope not in granted
    )
    if not withheld:
        return view, ()
    return replace(view, groups=view.groups - {w.group for w in withheld}), withheld


def level_scope_missing_description() -> str:
    return (
        f"identity verified but not counted ({SCOPE_MISSING}): the legal representative's "
        "authorisation does not cover the integrity level (AUTHORIZATION_SCOPE_INTEGRITY_LEVEL)"
    )
