"""Chinese identifiers: division codes, unified social credit codes, identity numbers.

Parsers validate a value exactly as given and raise
``service.domain.errors.InvalidIdentifier`` with a stable reason; descriptions
never repeat the value, which may be personal data.
"""

from __future__ import annotations

from service.domain.identifiers.divisions import (
    current_county_codes,
    division_name,
    is_known_division,
    province_of,
)
from service.domain.identifiers.resident_id import (
    IdDocumentKind,
    ResidentId,
    make_resident_id,
    parse_resident_id,
    resident_id_check_digit,
)
from service.domain.identifiers.uscc import (
    NATIONAL_AUTHORITY_CODE,
    RegionScope,
    Uscc,
    make_uscc,
    normalise_uscc,
    organisation_code_check_character,
    parse_uscc,
    uscc_check_character,
)

__all__ = [
    "NATIONAL_AUTHORITY_CODE",
    "IdDocumentKind",
    "RegionScope",
    "ResidentId",
    "Uscc",
    "current_county_codes",
    "division_name",
    "is_known_division",
    "make_resident_id",
    "make_uscc",
    "normalise_uscc",
    "organisation_code_check_character",
    "parse_resident_id",
    "parse_uscc",
    "province_of",
    "resident_id_check_digit",
    "uscc_check_character",
]
