"""User-Agent traits and bots (SPEC §4b "Derived traits", "Bots").

The parsing is uap-core's (the `ua-parser` package: the rules every uap port shares,
resolved by its Rust engine when installed); answers are cached, since a site's visitors
send a few thousand distinct strings. From a UA this derives `ua/mo` (`y` on phones and
tablets, else `n`), and where the UA is known enough `ua/br` (browser family) and `ua/os`,
lower-case and in the traits' alphabet. A bot is a UA that declares itself a crawler:
uap-core's "Spider" device, or a keyword of `BOT_KEYWORDS`; HTTP libraries (curl,
python-requests, okhttp...) are not bots.
"""

import functools
import re
from typing import NamedTuple

import ua_parser

UA_LENGTH_MAX = 1024
UA_CACHE_SIZE = 4096

TRAIT_MOBILE = "ua/mo"
TRAIT_BROWSER = "ua/br"
TRAIT_OS = "ua/os"

# The words crawlers put in their User-Agent (as in the IAB/ABC and COUNTER robot lists);
# matched case-insensitively. "bot" is matched as the end of a word ("Googlebot",
# "bingbot/2.0", "AhrefsBot") so that phone makers such as Cubot are not bots.
BOT_KEYWORDS = (
    "bot",
    "crawl",
    "spider",
    "slurp",
    "archiver",
    "mediapartners",
    "facebookexternalhit",
    "embedly",
    "preview",
    "scraper",
    "lighthouse",
)
_BOT = re.compile(
    r"(?<!cu)bot(?:\b|[/_-])|" + "|".join(re.escape(k) for k in BOT_KEYWORDS if k != "bot"),
    re.IGNORECASE,
)

# Generic HTTP libraries, by the product token their default User-Agent starts with
# (Python, Java, Go, Node, curl...): not bots (SPEC §4b), though uap-core files some of
# them (Python-urllib, Java) as "Spider". A library's UA that also names itself a crawler
# ("...bot") is a bot all the same.
HTTP_LIBRARIES = (
    "python-urllib",
    "python-requests",
    "python-httpx",
    "java",
    "java-http-client",
    "apache-httpclient",
    "okhttp",
    "go-http-client",
    "node",
    "node-fetch",
    "undici",
    "axios",
    "curl",
    "wget",
)
_HTTP_LIBRARY = re.compile(
    r"(?:" + "|".join(re.escape(name) for name in HTTP_LIBRARIES) + r")(?:/|\s|$)", re.IGNORECASE
)

_MOBILE_OS = {"ios", "android", "windows-phone", "blackberry-os", "kaios", "firefox-os"}
_BROWSERS = {  # uap-core family -> ours, where the plain lower-case form would not do
    "chrome-mobile": "chrome",
    "chrome-mobile-ios": "chrome",
    "chrome-mobile-webview": "chrome",
    "mobile-safari": "safari",
    "mobile-safari-ui-wkwebview": "safari",
    "firefox-mobile": "firefox",
    "firefox-ios": "firefox",
    "edge-mobile": "edge",
    "opera-mobile": "opera",
    "samsung-internet": "samsung",
    "ie": "ie",
    "ie-mobile": "ie",
}
_SYSTEMS = {"mac-os-x": "macos", "chrome-os": "chromeos", "windows-phone": "windows-phone"}
_NOT_TRAIT = re.compile(r"[^a-z0-9_-]+")


class UserAgentFacts(NamedTuple):
    traits: tuple[tuple[str, str], ...]  # (group, value), in the order mo, br, os
    bot: bool


def _family(name: str | None) -> str | None:
    if not name or name == "Other":
        return None
    slug = _NOT_TRAIT.sub("-", name.lower()).strip("-")[:64]
    return slug or None


@functools.lru_cache(maxsize=UA_CACHE_SIZE)
def user_agent_facts(ua: str) -> UserAgentFacts:
    """The derived traits of a (validated) User-Agent string, and whether it is a bot."""
    parsed = ua_parser.parse(ua)
    browser = _family(parsed.user_agent.family if parsed.user_agent else None)
    system = _family(parsed.os.family if parsed.os else None)
    device = parsed.device.family if parsed.device else None
    browser = _BROWSERS.get(browser, browser) if browser else None
    system = _SYSTEMS.get(system, system) if system else None
    mobile = system in _MOBILE_OS or device in ("iPhone", "iPad") or "Mobi" in ua
    traits = [(TRAIT_MOBILE, "y" if mobile else "n")]
    if browser:
        traits.append((TRAIT_BROWSER, browser))
    if system:
        traits.append((TRAIT_OS, system))
    spider = device == "Spider" and _HTTP_LIBRARY.match(ua) is None
    bot = spider or _BOT.search(ua) is not None
    return UserAgentFacts(traits=tuple(traits), bot=bot)


def ua_problem(ua: str) -> str | None:
    """Why a User-Agent string is refused, or None: 1 to UA_LENGTH_MAX printable chars."""
    if not 1 <= len(ua) <= UA_LENGTH_MAX:
        return f"it must be 1 to {UA_LENGTH_MAX} characters"
    if not ua.isprintable():
        return "it contains control characters"
    return None


def ua_traits(ua: str | None) -> tuple[tuple[str, ...], bool]:
    """The traits a (valid) UA derives, as `ua/mo:y`..., and whether it is a bot."""
    if ua is None:
        return (), False
    facts = user_agent_facts(ua)
    return tuple(f"{group}:{value}" for group, value in facts.traits), facts.bot


def trait_log(derived: tuple[str, ...]) -> list[str]:
    """The data.log lines of traits derived from the UA, in the words the official
    Conductrics clients' tests read."""
    return [f"Added trait '{trait}' (apply)" for trait in derived]
