from __future__ import annotations

import copy
import dataclasses

from service.domain.consent import SCOPE_MISSING, Withheld, withhold_unauthorised
from service.domain.scorecard import LevelReason
from service.domain.scorecard_document import parse_scorecard
from service.domain.verification import AuthorisationScope as S
from service.domain.visibility import EVERYTHING, LOGGED_IN, ArchiveView, FieldGroup, Tier
from tests.unit.domain.test_scorecard import (
    DOCUMENT,
    FRESH,
    factor,
    level,
    registry,
    strong_platform,
)

MERCHANT = ArchiveView(Tier.MERCHANT, EVERYTHING, "archive_viewing", "archive_page")


def test_the_legal_representative_needs_the_archive_scope() -> None:
    view, withheld = withhold_unauthorised(MERCHANT, frozenset({S.IDENTITY_VERIFICATION}))
    assert view.groups == EVERYTHING - {FieldGroup.LEGAL_REPRESENTATIVE}
    assert withheld == (Withheld(FieldGroup.LEGAL_REPRESENTATIVE, SCOPE_MISSING, S.ARCHIVE),)
    assert withhold_unauthorised(MERCHANT, frozenset({S.ARCHIVE})) == (MERCHANT, ())


def test_views_without_the_legal_representative_lose_nothing() -> None:
    viewer = ArchiveView(Tier.LOGGED_IN, LOGGED_IN, "archive_viewing", "archive_page")
    assert withhold_unauthorised(viewer, frozenset()) == (viewer, ())


def test_a_verification_without_the_level_scope_scores_nothing_and_says_why() -> None:
    facts = [registry(), *strong_platform()]
    unauthorised = dataclasses.replace(FRESH, integrity_level_authorised=False)
    counted, uncounted = level(facts, FRESH), level(facts, unauthorised)
    assert factor(counted, "IDENTITY_VERIFICATION") is None
    reason = factor(uncounted, "IDENTITY_VERIFICATION")
    assert reason.points == 0 and SCOPE_MISSING in reason.description
    assert reason.records == (f"verification:{FRESH.verification_id}",)
    assert uncounted.score < counted.score
    assert uncounted.inputs_digest != counted.inputs_digest


def test_the_refusal_stays_among_the_principal_reasons_whatever_else_costs_more() -> None:
    document = copy.deepcopy(DOCUMENT)
    document["factors"]["identity_verification"].update(max_points=10, stale_points=5)
    card = parse_scorecard(document)
    weak = [registry(status="revoked", registered_capital=None, establishment_date="2026-01-01")]
    unauthorised = dataclasses.replace(FRESH, integrity_level_authorised=False)
    authorised_reasons = level(weak, dataclasses.replace(FRESH, verified=False), card).reasons
    assert len(authorised_reasons) == 4
    assert "IDENTITY_VERIFICATION" not in {r.factor for r in authorised_reasons}  # costs least
    refused = level(weak, unauthorised, card).reasons
    assert len(refused) == 4
    assert SCOPE_MISSING in factor_of(refused, "IDENTITY_VERIFICATION").description


def factor_of(reasons: tuple[LevelReason, ...], name: str) -> LevelReason:
    return next(r for r in reasons if r.factor == name)
