"""User-Agent traits and bots (SPEC §4b): what a UA derives, and which UAs are crawlers."""

import pytest

from targeting.useragent import UA_CACHE_SIZE, user_agent_facts

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
    "like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)


@pytest.mark.parametrize(
    ("ua", "traits"),
    [
        (CHROME_WINDOWS, [("ua/mo", "n"), ("ua/br", "chrome"), ("ua/os", "windows")]),
        (IPHONE, [("ua/mo", "y"), ("ua/br", "safari"), ("ua/os", "ios")]),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0.0.0 Mobile Safari/537.36",
            [("ua/mo", "y"), ("ua/br", "chrome"), ("ua/os", "android")],
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
            "Gecko) Version/17.1 Safari/605.1.15",
            [("ua/mo", "n"), ("ua/br", "safari"), ("ua/os", "macos")],
        ),
        (
            CHROME_WINDOWS + " Edg/120.0.0.0",
            [("ua/mo", "n"), ("ua/br", "edge"), ("ua/os", "windows")],
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
            [("ua/mo", "n"), ("ua/br", "firefox"), ("ua/os", "linux")],
        ),
        ("MAGIC STRING", [("ua/mo", "n")]),  # the official clients' UserAgentTest
    ],
)
def test_traits__of_known_user_agents(ua, traits):
    facts = user_agent_facts(ua)
    assert list(facts.traits) == traits
    assert facts.bot is False


@pytest.mark.parametrize(
    "ua",
    [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)",
        "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Mozilla/5.0 (compatible; SomeCrawler/1.0)",
        "my-spider/0.1",
        "Twitterbot/1.0",
    ],
)
def test_bots__declared_crawlers(ua):
    assert user_agent_facts(ua).bot is True


@pytest.mark.parametrize(
    "ua",
    [
        # the default User-Agents of the common HTTP libraries (uap-core files the first
        # two as "Spider")
        "Python-urllib/3.11",
        "Java/17.0.15",
        "Java-http-client/17.0.15",
        "Apache-HttpClient/4.5.14 (Java/17.0.15)",
        "python-requests/2.31.0",
        "python-httpx/0.27.0",
        "Python/3.11 aiohttp/3.9.5",
        "curl/8.4.0",
        "Wget/1.21.3",
        "okhttp/4.9.0",
        "Go-http-client/1.1",
        "Go-http-client/2.0",
        "node",
        "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
        "undici",
        "axios/1.7.2",
        # a phone maker, not a bot
        "Mozilla/5.0 (Linux; Android 10; CUBOT_X30) AppleWebKit/537.36 Chrome/90 Mobile "
        "Safari/537.36",
        # automation a person drives (our own browser tests)
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "HeadlessChrome/120.0.0.0 Safari/537.36",
        CHROME_WINDOWS,
    ],
)
def test_not_bots__http_libraries_and_people(ua):
    assert user_agent_facts(ua).bot is False


def test_traits__fit_the_traits_alphabet():
    import re

    weird = "Mozilla/5.0 (Ünïcode; ☃ OS 1) Brwsr Ω/1.0 (spaces & signs!)"
    for group, value in user_agent_facts(weird).traits + user_agent_facts(IPHONE).traits:
        assert re.fullmatch(r"ua/(mo|br|os)", group)
        assert re.fullmatch(r"[a-z0-9_-]{1,64}", value)


def test_answers__are_cached_and_bounded():
    user_agent_facts.cache_clear()
    for i in range(UA_CACHE_SIZE + 10):
        user_agent_facts(f"agent/{i}")
    user_agent_facts(f"agent/{UA_CACHE_SIZE}")  # among the latest: still cached
    info = user_agent_facts.cache_info()
    assert info.currsize == UA_CACHE_SIZE
    assert info.hits >= 1
