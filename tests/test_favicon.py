"""The site has an icon: linked from every page, at /favicon.ico where browsers look, kept by them for a day."""

from __future__ import annotations

from flask.testing import FlaskClient


def test_every_page_links_the_icon(client: FlaskClient) -> None:
    for path in ("/", "/login", "/no-such-page"):
        body = client.get(path).get_data(as_text=True)
        assert '<link rel="icon" href="/favicon.ico" type="image/svg+xml">' in body, path


def test_the_icon_is_served_at_favicon_ico_with_a_day_of_caching(client: FlaskClient) -> None:
    with client.get("/favicon.ico") as response:
        assert response.status_code == 200
        assert response.mimetype == "image/svg+xml"
        assert response.get_data(as_text=True).startswith("<svg ")
        assert response.cache_control.max_age == 24 * 3600
        assert response.cache_control.public
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    with client.get("/static/favicon.svg", follow_redirects=True) as followed:
        assert followed.request.path == "/favicon.ico"  # one address, so one cached copy


def test_other_static_files_are_still_revalidated(client: FlaskClient) -> None:
    with client.get("/static/screening.css") as response:
        assert response.status_code == 200
        assert response.cache_control.max_age is None  # their names carry no version: a deploy must reach browsers
        assert response.cache_control.no_cache
