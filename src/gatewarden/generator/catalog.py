"""The fictional API's surface: endpoints with their cost profile, and the clients that call them.

Durations follow what a generative-AI API costs: image generation takes seconds, chat completions a
few seconds, embeddings and metadata tens of milliseconds. Fingerprints (UA, JA4, JA3,
Accept-Language) come in consistent bundles, the way a real client stack presents itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gatewarden.generator.rand import lognormal_int, pick, strings

API = "api.acme-ai.example"
APP = "app.acme-ai.example"
DOCS = "docs.acme-ai.example"
APP_URL = f"https://{APP}"


@dataclass(frozen=True)
class Endpoint:
    method: str
    host: str
    path: str
    ms: float  # median duration
    ms_sigma: float
    size: float  # median response bytes
    size_sigma: float


# Index = endpoint code used by the scenarios (see the constants below).
ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET", APP, "/", 35, 0.4, 9_800, 0.1),
    Endpoint("GET", APP, "/static/js/app.4f1c9a2e.js", 4, 0.6, 412_000, 0.0),
    Endpoint("GET", APP, "/static/css/app.81bd03.css", 3, 0.6, 48_200, 0.0),
    Endpoint("GET", APP, "/static/img/logo.svg", 2, 0.5, 3_100, 0.0),
    Endpoint("GET", APP, "/favicon.ico", 2, 0.5, 1_150, 0.0),
    Endpoint("POST", API, "/auth/login", 180, 0.3, 640, 0.1),
    Endpoint("POST", API, "/auth/refresh", 40, 0.3, 610, 0.1),
    Endpoint("GET", API, "/v1/models", 18, 0.4, 4_300, 0.05),
    Endpoint("POST", API, "/v1/chat/completions", 2_600, 0.7, 2_400, 0.8),
    Endpoint("POST", API, "/v1/images/generations", 9_500, 0.35, 1_900, 0.3),
    Endpoint("POST", API, "/v1/embeddings", 120, 0.5, 26_000, 0.6),
    Endpoint("GET", API, "/v1/chats/{id}/messages", 45, 0.5, 14_000, 0.9),
    Endpoint("GET", APP, "/account", 60, 0.4, 11_500, 0.2),
    Endpoint("POST", API, "/graphql", 55, 0.5, 1_800, 0.7),
    Endpoint("GET", DOCS, "/docs", 25, 0.4, 21_000, 0.4),
    Endpoint("GET", DOCS, "/robots.txt", 2, 0.3, 310, 0.0),
    Endpoint("GET", DOCS, "/sitemap.xml", 6, 0.3, 18_400, 0.0),
    Endpoint("GET", APP, "/share/{id}", 70, 0.5, 16_000, 0.6),
    Endpoint("POST", API, "/auth/logout", 20, 0.3, 90, 0.0),
)
PAGE, JS, CSS, IMG, FAVICON, LOGIN, REFRESH, MODELS, CHAT, IMAGE, EMBED, HISTORY, ACCOUNT, GRAPHQL, DOC, ROBOTS, SITEMAP, \
    SHARE, LOGOUT = range(len(ENDPOINTS))
STATIC = (JS, CSS, IMG, FAVICON)
# Endpoints answered by the API with a bearer token; the rest ride on the session cookie or nothing.
NEEDS_TOKEN = np.zeros(len(ENDPOINTS), dtype=bool)
NEEDS_TOKEN[[MODELS, CHAT, IMAGE, EMBED, HISTORY, GRAPHQL]] = True

DOC_PAGES = (
    "/docs", "/docs/quickstart", "/docs/guides/chat", "/docs/guides/images", "/docs/guides/embeddings",
    "/docs/guides/rate-limits", "/docs/api-reference/chat", "/docs/api-reference/images", "/docs/api-reference/embeddings",
    "/docs/api-reference/graphql", "/docs/pricing", "/docs/changelog", "/docs/sdks/python", "/docs/sdks/node",
)
ACCOUNT_PAGES = ("/account", "/account/usage", "/account/billing", "/account/api-keys", "/account/settings")

BENIGN_GRAPHQL = (
    'query Viewer { viewer { id email plan } }',
    'query Usage { viewer { usage(period: "DAY") { tokens images cost } } }',
    'query Chats($first: Int) { viewer { chats(first: $first) { edges { node { id title updatedAt } } } } }',
    'query Chat($id: ID!) { chat(id: $id) { id title messages(last: 20) { edges { node { id role createdAt } } } } }',
    'mutation Rename($id: ID!, $title: String!) { renameChat(id: $id, title: $title) { id title } }',
    'query Keys { viewer { apiKeys { id name createdAt lastUsedAt } } }',
)


@dataclass(frozen=True)
class Profile:
    """A client stack as a CDN sees it."""

    user_agent: str
    ja4: str
    ja3: str


BROWSERS: tuple[Profile, ...] = (
    Profile("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
            "t13d1516h2_8daaf6152771_02713d6af862", "cd08e31494f9531f560d64c695473da9"),
    Profile("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
            "t13d1516h2_8daaf6152771_02713d6af862", "cd08e31494f9531f560d64c695473da9"),
    Profile("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
            "t13d2014h2_a09f3c656075_14788d8d241b", "773906b0efdefa24a7f2b8eb6985bf37"),
    Profile("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
            "t13d1715h2_5b57614c22b0_3d5424432f57", "579ccef312d18482fc42e2b822ca2430"),
    Profile("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 "
            "Edg/131.0.0.0", "t13d1516h2_8daaf6152771_e5627efa2ab1", "cd08e31494f9531f560d64c695473da9"),
    Profile("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
            "t13d1715h2_5b57614c22b0_3d5424432f57", "579ccef312d18482fc42e2b822ca2430"),
)
BROWSER_WEIGHTS = (0.34, 0.2, 0.16, 0.12, 0.12, 0.06)
MOBILE: tuple[Profile, ...] = (
    Profile("AcmeAI/3.4.1 (iPhone; iOS 18.1; Scale/3.00)", "t13d2014h2_a09f3c656075_14788d8d241b", "773906b0efdefa24a7f2b8eb6985bf37"),
    Profile("AcmeAI/3.4.1 (Android 14; Pixel 8; okhttp/4.12.0)", "t13d1516h2_8daaf6152771_b0da82dd1658",
            "b32309a26951912be7dba376398abc3b"),
    Profile("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 "
            "Mobile/15E148 Safari/604.1", "t13d2014h2_a09f3c656075_14788d8d241b", "773906b0efdefa24a7f2b8eb6985bf37"),
    Profile("Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
            "t13d1516h2_8daaf6152771_02713d6af862", "cd08e31494f9531f560d64c695473da9"),
)
SDKS: tuple[Profile, ...] = (
    Profile("AcmeAI/Python 1.54.3", "t13d5911h1_a33745022dd6_1f22a2ca17c4", "e5ea1b0f1ea8c6b2b3b3a4e39d7b4b4f"),
    Profile("AcmeAI/JS 4.73.0", "t13d1812h1_85036bcba153_375ca2c5e164", "4f55e3e2ebc7e5a4bfb7c1e6fb8a8e13"),
    Profile("acme-ai-go/0.9.2 Go-http-client/2.0", "t13d1312h2_f57a46bbacb6_ab7e3b40a677", "d2b6b1f1c6d3e0f3f0a7f2c5f1e9a7c2"),
    Profile("python-httpx/0.27.2", "t13d5911h1_a33745022dd6_1f22a2ca17c4", "e5ea1b0f1ea8c6b2b3b3a4e39d7b4b4f"),
    Profile("langchain-acme/0.2.9 AcmeAI/Python 1.54.3", "t13d5911h1_a33745022dd6_1f22a2ca17c4", "e5ea1b0f1ea8c6b2b3b3a4e39d7b4b4f"),
)
SDK_WEIGHTS = (0.45, 0.25, 0.1, 0.1, 0.1)
GOOGLEBOT = Profile("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
                    "t13d1312h2_e8f1e7e78f70_b26ce05bbdd6", "7fc3f9b8e45ac4b8d27c9e7d0a5a8e21")
AUTOMATION: tuple[Profile, ...] = (
    Profile("python-requests/2.32.3", "t13d3112h1_cc8ae9d42ed1_57a1b1b4c1b7", "8d9f7747675e24454cd9b7ed35c58707"),
    Profile("Go-http-client/1.1", "t13d1311h1_e8f1e7e78f70_6bebaf5329ac", "473cd7cb9faa642487833865d516e578"),
    Profile("curl/8.5.0", "t13d4907h1_0d8feac7bc37_7395dae3b2f3", "456523fc94726331a4d5a2e1d40b2cd7"),
    Profile("axios/1.7.7", "t13d1812h1_85036bcba153_375ca2c5e164", "4f55e3e2ebc7e5a4bfb7c1e6fb8a8e13"),
    Profile("okhttp/4.12.0", "t13d1516h2_8daaf6152771_b0da82dd1658", "b32309a26951912be7dba376398abc3b"),
)

LANGUAGES = {
    "US": "en-US,en;q=0.9", "CA": "en-CA,en;q=0.9,fr-CA;q=0.8", "GB": "en-GB,en;q=0.9", "DE": "de-DE,de;q=0.9,en;q=0.8",
    "FR": "fr-FR,fr;q=0.9,en;q=0.7", "ES": "es-ES,es;q=0.9,en;q=0.6", "JP": "ja-JP,ja;q=0.9,en;q=0.7",
    "IN": "en-IN,en;q=0.9,hi;q=0.8", "BR": "pt-BR,pt;q=0.9,en;q=0.7", "NL": "nl-NL,nl;q=0.9,en;q=0.8",
}
# Hours ahead of UTC, for the shape of the day.
TZ_HOURS = {"US": -6, "CA": -5, "GB": 0, "DE": 1, "FR": 1, "ES": 1, "JP": 9, "IN": 5, "BR": -3, "NL": 1}


def respond(rng: np.random.Generator, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Status, bytes and duration (whole ms) for each request of the given endpoint codes."""
    n = len(codes)
    ms = np.array([e.ms for e in ENDPOINTS])[codes]
    ms_sigma = np.array([e.ms_sigma for e in ENDPOINTS])[codes]
    size = np.array([e.size for e in ENDPOINTS])[codes]
    size_sigma = np.array([e.size_sigma for e in ENDPOINTS])[codes]
    duration = lognormal_int(rng, ms, ms_sigma, n, low=1, high=120_000)
    nbytes = lognormal_int(rng, size, size_sigma, n, low=0)
    status = np.full(n, 200, dtype=np.int64)
    u = rng.random(n)
    costly = np.isin(codes, (CHAT, IMAGE, EMBED))
    status = np.where(costly & (u < 0.006), 429, status)
    status = np.where(costly & (u > 0.996), 500, status)
    return status, nbytes, duration


def errors(status: np.ndarray, nbytes: np.ndarray, duration: np.ndarray, code: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows answered with an error `code`: small body, quick answer (the request never reached a model)."""
    fast = np.minimum(duration, 40 + duration % 60)
    return np.full_like(status, code), np.minimum(nbytes, 180 + nbytes % 120), fast


def paths(rng: np.random.Generator, codes: np.ndarray) -> np.ndarray:
    """Request targets: the endpoint's path with ids and query strings filled in."""
    n = len(codes)
    out = np.array([e.path for e in ENDPOINTS], dtype=object)[codes]
    chats = np.char.add(np.char.add("/v1/chats/", strings(rng, n, 16, "chat_")), "/messages?limit=50")
    shares = np.char.add("/share/", strings(rng, n, 22))
    docs = pick(rng, DOC_PAGES, n)
    account = pick(rng, ACCOUNT_PAGES, n)
    out = np.where(codes == HISTORY, chats.astype(object), out)
    out = np.where(codes == SHARE, shares.astype(object), out)
    out = np.where(codes == DOC, docs, out)
    out = np.where(codes == ACCOUNT, account, out)
    return out


def methods_hosts(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (np.array([e.method for e in ENDPOINTS], dtype=object)[codes],
            np.array([e.host for e in ENDPOINTS], dtype=object)[codes])


def profile_columns(profiles: tuple[Profile, ...], idx: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "user_agent": np.array([p.user_agent for p in profiles], dtype=object)[idx],
        "ja4": np.array([p.ja4 for p in profiles], dtype=object)[idx],
        "ja3": np.array([p.ja3 for p in profiles], dtype=object)[idx],
    }
