"""Texts that are not an issue: thanks, praise, "problem solved", star-rating chatter.

A problem whose members are mostly such texts is not an issue problem whatever the classifier
said (it goes to ``other``): :func:`praise_share` measures it, :data:`PRAISE_MAJORITY` is the rule.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["PRAISE_MAJORITY", "is_praise", "praise_share"]

PRAISE_MAJORITY = 0.5
"""A problem with at least this share of praise / thanks texts belongs to ``other``."""

_PRAISE = re.compile(
    r"\b(thanks?|thank(?:s| you| u)|thx|ty|cheers|grateful|appreciated?|great|love[sd]?|loving|awesome|excellent|"
    r"amazing|perfect|fantastic|brilliant|wonderful|superb|helpful|best|nice|good (?:job|work|service|app)|"
    r"well done|kudos|solved|resolved|sorted|fixed|works? (?:great|fine|well|perfectly|now)|"
    r"(?:[1-5]|one|two|three|four|five) stars?|10/10|recommend(?:ed)?|happy|satisfied|pleased|all good|good|easy|smooth(?:ly)?|"
    r"quick(?:ly)?|fast|simple)\b|[⭐🙏👍😊❤]",
    re.IGNORECASE,
)
# Complaint language: a text with any of these is a report, even when it also says thanks.
_COMPLAINT = re.compile(
    r"\b(not|n't|never|no longer|can'?t|cannot|won'?t|doesn'?t|didn'?t|isn'?t|unable|error|crash\w*|fail\w*|"
    r"broken|bug\w*|wrong|refund|charged?|missing|late|slow|stuck|declined|blocked|locked|lost|stolen|hacked|"
    r"why|still|again|issue|please fix|worst|terrible|awful|useless|hate|annoying|frustrat\w*|disappointed|"
    r"waiting|delay\w*|damaged|freez\w*|glitch\w*|problem(?!s? (?:solved|resolved|fixed|sorted)))\b|\?",
    re.IGNORECASE,
)
_SOLVED = re.compile(
    r"\b(?:problems?|issues?)(?: (?:is|was|has been|got|are|were|have been))? (?:now )?(?:solved|resolved|fixed|sorted)"
    r"|\b(?:solved|resolved|fixed|sorted)(?: out)? (?:my|the|this|our|that) (?:problem|issue)s?"
    r"|\bno (?:problems?|issues?|complaints?)\b|\bnot (?:a|one) (?:single )?(?:problem|issue|complaint)\b",
    re.IGNORECASE,
)


def is_praise(text: str) -> bool:
    """Thanks or praise with no complaint in it ("Thanks, problem solved!", "5 stars, love it")."""
    t = text.replace("’", "'")
    if not _PRAISE.search(t):
        return False
    return not _COMPLAINT.search(_SOLVED.sub(" ", t))


def praise_share(texts: Sequence[str]) -> float:
    return sum(1 for t in texts if is_praise(t)) / len(texts) if texts else 0.0
