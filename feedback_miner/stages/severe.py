"""Severe texts that joined no problem: listed every week under their own heading, so nothing
severe disappears in a small week (money lost, a blocked payment, a locked-out customer, safety).

Pure: :func:`severe_unclustered` takes the run's items, their effective categories and each item's
problem id (``None`` = joined no problem) and returns the severe ones, most severe first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from feedback_miner.domain.types import FeedbackItem
from feedback_miner.errors import InputError

__all__ = ["SEVERE_REASONS", "SevereText", "severe_reason", "severe_unclustered"]


@dataclass(frozen=True)
class SevereText:
    """One severe text outside every problem: why it is severe, its category and its (redacted) quote."""

    item_id: int | None
    category: str
    reason: str
    quote: str


_N = r"(?:(?:has|have|had|is|are|was|were|did|does|do)n'?t|not|never|no)"
_PAID_NOT_CHARGE = r"payment|transaction|withdrawal|withdrawl|debit|purchase"
_PAID = rf"(?:charge|{_PAID_NOT_CHARGE})"
_CANT = (r"(?:(?:can'?t|cannot|can not|ca n't|could(?:n'?t| not))(?: even| seem to)?|unable to|not able to|impossible to|"
         r"(?:won'?t|wo n't|will not|doesn'?t|does not|didn'?t|did not) (?:even )?(?:let|allow) me(?: to)?)")
# Each rule was read against real app reviews and support texts (benchmarks/bench_severe.py measures the
# precision and recall of every reason; tests/unit/test_severe_quality.py holds floors on its copyable part): a word alone ("fire", "hurt", "scam", "shocked")
# names a severe report far less often than it names an emoji, eye strain or an opinion, so most rules
# need the words around it.
SEVERE_REASONS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("safety", re.compile(
        r"\b(unsafe|dangerous|hazard(?:s|ous)?|(?:caught|catch(?:es|ing)?|set on) fire|burst into flames|"
        r"electric(?:al)? shocks?|electrocut\w*|(?:charger|cable|plug|device|socket|lamp|kettle) (?:\w+ )?shocked (?:me|my|him|her)|"
        r"(?:battery|charger|phone|device|power ?bank|kettle|bottle|screen) (?:\w+ ){0,3}(?:exploded|explodes|exploding)|"
        r"explod(?:ed|ing) (?:battery|charger|phone)|overheat\w*|"
        r"(?:phone|battery|charger|device|laptop|tablet|plug|cable|kettle|heater|it) (?:\w+ ){0,2}(?:get|gets|got|getting|became|becomes) "
        r"(?:incredibly |really |very |so |too |extremely )?hot\b(?! (?:deals?|offers?|items?|products?|sales?|prices?))|"
        r"(?:charger|battery|plug|cable|device|phone|it) (?:started |was |is |began )?smoking|smoke (?:came|coming|pouring)|"
        r"burn(?:ed|t|s)? (?:me|my (?:hand|finger|fingers|skin|arm|leg|face|child|son|daughter|kid))|"
        r"(?:i|we|he|she|they|my (?!sales|ratings?|business|feelings|reviews?|profits?)\w+|someone|somebody) (?:got|was|were|have been|has been|been|getting) (?:badly |seriously )?"
        r"(?:hurt|injured|burned|burnt)\b(?! by (?:a |the |this )?(?:fake |bad |dodgy )?(?:seller|buyer|scam))|(?<!insult to )injur(?:y|ies|ed)|"
        r"choking hazard|choked on|poison\w*|(?<!no )(?<!ad )(?<!any )harass(?:ed|es|ing|ment)?(?! (?:you |us )?with)(?! me with (?:ads?|adverts?|notifications?|emails?|pop-?ups?|prompts?|videos?))|"
        r"threaten(?:ed|ing|s)? (?:me|us|to (?:kill|hurt|harm|beat))|threatening (?:me|messages?|calls?)|death threats?|"
        r"threats? (?:to|from|against) (?:me|my|us|our|kill|hurt|harm)|"
        r"stalk(?:ed|er|ers|ing)|assault(?:ed)? (?:me|by)|sexual(?:ly)? assault\w*|shot in the head)\b",
        re.IGNORECASE)),
    ("money lost", re.compile(
        r"\b(charged (?:me )?(?:twice|two times|double|again|after (?:i )?cancel\w*|without (?:my )?(?:permission|consent))|"
        r"double[- ]charged|overcharged|charged for nothing|scammed|"
        rf"duplicate (?:card )?{_PAID}s?|{_PAID}s? (?:was |were |got |has been |is being )?duplicated|"
        rf"(?<!made a )(?:charge(?! (?:my |the |your )?(?:phone|battery|device|laptop|tablet))|{_PAID_NOT_CHARGE})s? (?:(?!(?:declined|failed|rejected|refused|tried|attempt\w*)\b)\w+ ){{0,4}}(?:twice|two times|more than once|multiple times|several times)|"
        rf"(?:unauthori[sz]ed|fraudulent|unknown|false|unrecogni[sz]ed) (?:card |cash |direct debit )?{_PAID}s?|"
        rf"(?:don'?t|do not|didn'?t|did not) recogni[sz]e (?:a |the |this |that |one |these )?(?:card |cash |direct debit )?{_PAID}|"
        rf"{_PAID}s? (?:\w+ ){{0,3}}(?:i|that i) (?:never|didn'?t|did not|don'?t|do not) (?:make|made|do|did|submit\w*|"
        r"authori[sz]e|set up|recogni[sz]e|remember)|"
        rf"(?:i )?(?:didn'?t|did not|never) (?:make|made|authori[sz]e|set up) (?:this|that|the|a|these|those|any) (?:card |cash )?{_PAID}s?(?! (?:so|this|that) (?:easy|easily|fast|quick|simple)| (?:here |on here |on this \w+ )?before)|"
        rf"{_PAID}s? (?:that )?(?:isn'?t|aren'?t|is not|are not) mine|"
        r"someone (?:else )?(?:has )?(?:just )?(?:already )?(?:used|is using|made (?!a fake|an? new|a (?:shop|profile|listing))|accessed|withdrew|took|taken|stole|stolen)\b[^.!?]{0,30}\b(?:card|account|money|cash)|"
        r"money (?:is |was |were |has |got |has been )?(?:gone|missing|taken|lost|stolen|deducted|debited|disappeared)|"
        r"(?:lost|stolen) (?:my )?money|"
        rf"(?:refund|payout|money back|reimbursement)\w* (?:\w+ ){{0,4}}(?:has |have |is )?(?:still )?(?:{_N}|yet to) "
        r"(?:been |yet )?(?:received|arrived|come|paid|reached|appeared|showed up|show(?:n|ed|ing)?(?: up)?)|"
        rf"(?:(?:still )?{_N}|do not) (?:receive[d]?|get|got(?:ten)?|have) (?:my |the |a |any )?(?:refund|payout|money back)|"
        r"(?:can'?t|cannot|don'?t|do not) see (?:my |the |a )?refund(?!s? (?:policy|policies|option|button|page|link|form|tab))|missing (?:a |my |the )?refund|refund\w* (?:is |appears to be )?missing|"
        r"(?:won'?t|wo n't|will not|refuse[sd]? to) (?:give (?:me )?(?:a |my )?)?refund|"
        r"(?:doesn'?t|does not|didn'?t|did not) show (?:my |the )?payment(?!s? (?:options?|methods?|page|button|screen))|"
        r"(?:got|get|received|gave me|given|dispensed) (?:less|the wrong|wrong|incorrect|an incorrect) (?:cash|money|amount|sum)|"
        r"(?:didn'?t|did not) (?:give|dispense) (?:me )?(?:the |all )?(?:\w+ )?(?:money|cash|amount)|"
        r"(?:subscription|membership|trial)[^.!?]{0,30}(?:won'?t|wo n't|can'?t|cannot|unable to) cancel|"
        r"(?:never|not|haven'?t been|hasn'?t been|have not been|has not been) (?:got |get |been )?(?:paid|refunded)(?! (?:on|in) time)|"
        r"(?:took|taken|kept|keep|keeps) (?:my|our|the) money|payouts? (?:is |are |has been |have been )?(?:missing|on hold|held|frozen)|"
        r"(?:was |got |been )?still charged|charged (?:me )?anyway|(?:waiting|wait) (?:for|on) (?:my |a |the )?(?:refund|payout|money)|"
        r"(?:can'?t|cannot|unable to|could(?:n'?t| not)) cancel (?:my |the )?(?:subscription|membership|plan)|"
        r"paid\b[^.!?]{0,40}\b(?:but|and|yet) (?:i |it )?(?:still )?(?:never|didn'?t|did not|haven'?t|have not|hasn'?t|has not) "
        r"(?:got|gotten|get|received|receive|arrived|come|came|shipped)|paid but (?:never|not|no|nothing))\b", re.IGNORECASE)),
    ("payment blocked", re.compile(
        rf"\b(?:{_CANT} (?:pay|make (?:a |the |my )?(?:payment|transfer)|check ?out|complete (?:the |my )?(?:payment|purchase|checkout|order))|"
        r"(?:card|payment|transaction|transfer|checkout|paypal|purchase)s? (?:\w+ ){0,2}(?:was |were |is |keeps |got |get |gets |"
        r"getting |been |being |has been |keeps getting |kept getting )?"
        r"(?:declined|rejected|refused|fail(?:s|ed|ing|ure)?|blocked|unsuccessful|won'?t go through|not going through)|"
        r"(?:card|pay\w*|checkout|transaction|transfer|visa|mastercard|amex|bank)\b[^.!?]{0,40}\bit (?:was |is |keeps |got |gets |getting |being |keeps getting |kept getting )declined|"
        r"(?:card|payment|transaction|transfer|purchase|order) (?:just |still )?(?:(?:didn'?t|did not|won'?t|wouldn'?t|doesn'?t|does not) "
        r"(?:go through|get accepted)|(?:wasn'?t|was not|isn'?t|is not|not) accepted)|"
        r"(?:card|payment|transfer) (?:just |still )?(?:didn'?t|did not|won'?t|wouldn'?t|doesn'?t|does not) work (?:at|in|for|when|online)|"
        r"(?:card|payment|transfer) (?:just |still )?(?:didn'?t|did not|won'?t|wouldn'?t) work\b(?! (?:on|with) )|"
        r"(?:paypal|apple pay|google pay) (?:just |still )?(?:isn'?t|is not|doesn'?t|does not|didn'?t|won'?t|wouldn'?t) work(?:ing)?|"
        r"(?:keep|keeps|kept) declining(?! (?:my |the |all )?(?:offers?|bids?|requests?|returns?))|says declined|decline message|(?:didn'?t|did not|won'?t|wouldn'?t) accept (?:my )?(?:card|payment)|"
        r"declined my (?:card|payment|transfer))\b", re.IGNORECASE)),
    ("locked out", re.compile(
        rf"\b(locked out|lock(?:ed)? me out|{_CANT} (?:log ?(?:back )?in(?:to)?|login|sign ?in(?:to)?|access (?:my |your )?(?:account|profile)|"
        r"get (?:into|in to|back into) my account)|trouble (?:to |with )?(?:log(?:ging)?|sign(?:ing)?) ?in|"
        r"account (?:is |was |got |has been |keeps getting |being |getting )?(?:locked|blocked|suspended|disabled|hacked|"
        r"compromised|banned|closed without|deactivated|terminated)|(?:suspend(?:ed|ing)?|banned|blocked|disabled|locked) my account|"
        r"banned for (?:no|0|nothing)|(?:i|we|i've|we've|i'm|account|my \w+) (?:got |was |were |is |have been |has been |been |am |keep getting )?(?:being )?banned|login (?:for (?:your|my) account )?is (?:temporarily )?disabled|"
        r"(?:account|i|we|profile|email|someone)\b[^.!?]{0,20}\bhacked(?! off)|hacked (?:my|our|into my)|lost access)\b", re.IGNORECASE)),
)
_RANK = {name: n for n, (name, _) in enumerate(SEVERE_REASONS)}


def severe_reason(text: str) -> str | None:
    """The first severe reason the text gives (in :data:`SEVERE_REASONS` order), or ``None``."""
    t = text.replace("’", "'")
    return next((name for name, rx in SEVERE_REASONS if rx.search(t)), None)


def _quote(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + " …"


def severe_unclustered(
    items: Sequence[FeedbackItem],
    categories: Sequence[str],
    problem_of: Sequence[str | None],
    *,
    limit: int = 10,
    quote_chars: int = 240,
) -> list[SevereText]:
    """Severe texts among those that joined no problem, most severe reason first (then input order);
    at most ``limit``, one per distinct quote. ``other`` texts count too: a safety report the
    classifier missed is still a safety report."""
    if not len(items) == len(categories) == len(problem_of):
        raise InputError(
            f"items ({len(items)}), categories ({len(categories)}) and problem_of ({len(problem_of)}) must align")
    if limit < 0:
        raise InputError(f"limit must be >= 0, got {limit}")
    found: list[tuple[int, int, SevereText]] = []
    seen: set[str] = set()
    for n, (item, cat, pid) in enumerate(zip(items, categories, problem_of)):
        if pid is not None:
            continue
        reason = severe_reason(item.text)
        quote = _quote(item.text, quote_chars)
        if reason is None or quote.lower() in seen:
            continue
        seen.add(quote.lower())
        found.append((_RANK[reason], n, SevereText(item.id, cat, reason, quote)))
    found.sort(key=lambda f: (f[0], f[1]))
    return [f[2] for f in found[:limit]]
