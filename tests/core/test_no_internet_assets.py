"""No page loads anything from the internet: every asset comes from the node itself (#20).

A Terminal or a site's Satellite may have no internet at all, and an operator's browser
should not tell third parties (font and script CDNs) which pages it opens.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
import requests

pytestmark = pytest.mark.django_db(transaction=True)

PAGES = [
    "/",
    "/admin/",
    "/admin/control-center/",
    "/admin/chargers/chargingstation/",
    "/admin/simulator/simulator/add/",
    "/changelog/",
    "/api/docs/",
    "/api/redoc/",
]
ANONYMOUS_PAGES = ["/admin/login/", "/account/login/"]
# Attributes that make the browser fetch something, on the tags that have them.
FETCHING = {"src", "href", "srcset", "poster", "data"}
ASSET_TAGS = {"link", "script", "img", "source", "iframe", "embed", "object", "video", "audio"}
CSS_URL = re.compile(r"""@import\s+(?:url\()?\s*["']?([^"')\s;]+)|url\(\s*["']?([^"')]+)""")


class Assets(HTMLParser):
    """Collect the asset URLs of a page: tags' fetching attributes, and its CSS's URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.stylesheets: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "style":
            self._in_style = True
        if "style" in values:
            self.urls += css_urls(values["style"])
        if tag not in ASSET_TAGS:
            return
        for name, value in values.items():
            if name in FETCHING and value:
                urls = (
                    [part.split()[0] for part in value.split(",")] if name == "srcset" else [value]
                )
                self.urls += urls
        if tag == "link" and "stylesheet" in values.get("rel", ""):
            self.stylesheets.append(values.get("href", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.urls += css_urls(data)


def css_urls(css: str) -> list[str]:
    return [a or b for a, b in CSS_URL.findall(css)]


def foreign(urls: list[str], own: str) -> list[str]:
    """Return the URLs that point at another host than `own` (data: URLs are local)."""
    out = []
    for url in urls:
        parts = urlsplit(url.strip())
        if parts.scheme in ("http", "https", "ws", "wss", "") and parts.netloc:
            if parts.netloc != own:
                out.append(url)
    return out


@pytest.fixture
def browser(asgi_server, admin_client) -> requests.Session:
    """A browser signed in as the admin, on the real ASGI server."""
    session = requests.Session()
    session.cookies.set("sessionid", admin_client.cookies["sessionid"].value)
    return session


def check(session: requests.Session, base: str, path: str) -> list[str]:
    response = session.get(base + path, timeout=30)
    assert response.status_code == 200, (path, response.status_code)
    assert urlsplit(response.url).path == path.split("?")[0], "redirected: not signed in?"
    parser = Assets()
    parser.feed(response.text)
    bad = foreign(parser.urls, urlsplit(base).netloc)
    for href in parser.stylesheets:
        url = urljoin(response.url, href)
        if urlsplit(url).netloc != urlsplit(base).netloc:
            continue  # already counted above
        css = session.get(url, timeout=30)
        assert css.status_code == 200, url
        bad += [f"{href}: {u}" for u in foreign(css_urls(css.text), urlsplit(base).netloc)]
    return bad


@pytest.mark.parametrize("path", PAGES)
def test_signed_in_pages_load_nothing_from_the_internet(browser, asgi_server, path):
    assert check(browser, asgi_server.http_url, path) == []


@pytest.mark.parametrize("path", ANONYMOUS_PAGES)
def test_anonymous_pages_load_nothing_from_the_internet(asgi_server, path):
    assert check(requests.Session(), asgi_server.http_url, path) == []


def test_swagger_ui_shows_no_validator_badge_from_the_internet(browser, asgi_server):
    # Swagger UI adds an <img> from validator.swagger.io by itself unless validatorUrl is null.
    page = browser.get(f"{asgi_server.http_url}/api/docs/", timeout=30).text
    assert '"validatorUrl": null' in page


def test_the_checker_sees_internet_assets():
    parser = Assets()
    parser.feed(
        '<link rel="stylesheet" href="https://fonts.googleapis.com/css?family=Roboto">'
        "<style>@import url(//cdn.example.com/x.css); b{background:url('data:image/png;x')}</style>"
        '<script src="/static/local.js"></script><img srcset="http://cdn.example.com/a.png 2x">'
        '<a href="https://example.com/">a link is no asset</a>'
    )
    assert foreign(parser.urls, "127.0.0.1:8000") == [
        "https://fonts.googleapis.com/css?family=Roboto",
        "//cdn.example.com/x.css",
        "http://cdn.example.com/a.png",
    ]
