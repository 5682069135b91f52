"""What a condition can read, for the people who write them: the admin lists it beside the
condition editor (an agent's targeting, a goal's condition), with the account's own codes
where a source names one."""

from collections.abc import Iterable, Sequence

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from targeting.conditions import (
    SOURCE_GOAL,
    SOURCE_INPUT,
    SOURCE_RANDOM,
    SOURCE_TARGET,
    SOURCE_TRAIT,
    SOURCE_VARIATION,
)
from targeting.useragent import TRAIT_BROWSER, TRAIT_MOBILE, TRAIT_OS

# source -> (its name, what it reads)
SOURCE_READS: dict[str, tuple[str, str]] = {
    SOURCE_INPUT: (
        "an input's key, such as plan",
        'the request\'s inputs: {"inputs": {"plan": "pro"}} in the body (never stored)',
    ),
    SOURCE_TRAIT: (
        f"cust/<group>, or {TRAIT_MOBILE}, {TRAIT_BROWSER}, {TRAIT_OS}",
        "cust/tier reads the request's traits=tier:gold (value gold); from the User-Agent "
        f"the server adds {TRAIT_MOBILE} (y on phones and tablets, else n), {TRAIT_BROWSER} "
        f"(chrome, safari, firefox, edge, ...) and {TRAIT_OS} (ios, android, windows, macos, "
        "...); a page deciding locally has no ua/ traits",
    ),
    SOURCE_RANDOM: ("(none)", "the visitor's own number from 1 to 100 in this agent"),
    SOURCE_TARGET: ("(none)", "the code of the deploy target the request came through"),
    SOURCE_GOAL: (
        "a goal's code",
        "whether this visitor has an event of that goal (reached / not_reached), within the "
        "last within_hours when given",
    ),
    SOURCE_VARIATION: (
        "an agent's code",
        "the variation this visitor holds in that agent (absent when none)",
    ),
}


def vocabulary_html(
    sources: Sequence[str], *, goal_codes: Iterable[str], agent_codes: Iterable[str]
) -> SafeString:
    """A table of `sources`, each with its name and what it reads, and the codes a goal or
    variation leaf can name in this account."""
    codes = {SOURCE_GOAL: sorted(goal_codes), SOURCE_VARIATION: sorted(agent_codes)}
    rows = []
    for source in sources:
        name, reads = SOURCE_READS[source]
        known = codes.get(source)
        if known:
            reads = f"{reads}. Here: {', '.join(known[:30])}" + (" ..." if len(known) > 30 else "")
        rows.append((source, name, reads))
    return format_html(
        '<table class="ct-vocabulary"><thead><tr><th scope="col">source</th>'
        '<th scope="col">name</th><th scope="col">reads</th></tr></thead><tbody>{}</tbody>'
        "</table>",
        format_html_join("", "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>", rows),
    )
