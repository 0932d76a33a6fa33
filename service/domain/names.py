"""Comparing enterprise and person names as registries and people write them.

The same registered name turns up with full-width or half-width brackets, with
stray spaces (ASCII, ideographic or no-break), and, in transliterated names
such as "阿依古丽·买买提", with whichever middle dot the input method produced.
None of that makes it a different name; everything else does.
"""

from __future__ import annotations

import unicodedata

# Brackets that stand in for round brackets around a qualifier such as a
# branch or a region: 北京某某科技有限公司（海淀分公司）. Full-width ones are
# handled by NFKC; these have no compatibility mapping. Book-title marks 《》〈〉
# and quotation marks 「」『』 are deliberately left alone: they quote a title or
# a brand, so "《读者》杂志社" and "(读者)杂志社" are different names.
_BRACKETS = str.maketrans(
    {
        "【": "(",
        "】": ")",
        "〔": "(",
        "〕": ")",
        "〖": "(",
        "〗": ")",
        "〘": "(",
        "〙": ")",
        "⦅": "(",
        "⦆": ")",
        "[": "(",
        "]": ")",
    }
)

# Separators in transliterated names. NFKC already maps U+FF65 (halfwidth
# katakana middle dot) to U+30FB and U+0387 (Greek ano teleia) to U+00B7.
_MIDDLE_DOT = "\u00b7"
_MIDDLE_DOTS = str.maketrans(
    dict.fromkeys(
        [
            "\u30fb",  # katakana middle dot, from Japanese input methods
            "\u2022",  # bullet
            "\u2027",  # hyphenation point
            "\u2219",  # bullet operator
            "\u22c5",  # dot operator
        ],
        _MIDDLE_DOT,
    )
)


def normalise_name(raw: str) -> str:
    """A comparison key for a name; not for display or storage."""
    folded = unicodedata.normalize("NFKC", raw)
    folded = unicodedata.normalize("NFKC", folded.casefold())
    folded = folded.translate(_BRACKETS).translate(_MIDDLE_DOTS)
    # Whitespace and invisible format characters (zero-width space and joiners,
    # byte-order marks) never distinguish two names.
    kept = "".join(
        char for char in folded if not char.isspace() and unicodedata.category(char) != "Cf"
    )
    # Dropping a space can bring combining marks together that normalisation
    # orders differently, so normalise once more for a stable key.
    return unicodedata.normalize("NFKC", kept)


def names_match(a: str, b: str) -> bool:
    """Whether two names are the same once spelling variants are ignored."""
    return normalise_name(a) == normalise_name(b)
