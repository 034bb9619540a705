from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import parse_bool, parse_database_url, parse_list, parse_log_level


def test_no_database_url_means_the_embedded_sqlite_database():
    config = parse_database_url(None, base_dir=Path("/srv/app"))
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == Path("/srv/app/db.sqlite3")


def test_sqlite_urls_take_relative_and_absolute_paths():
    assert parse_database_url("sqlite:///data/x.sqlite3", base_dir=Path("/srv/app"))["NAME"] == Path(
        "/srv/app/data/x.sqlite3"
    )
    assert parse_database_url("sqlite:////tmp/x.sqlite3", base_dir=Path("/srv/app"))["NAME"] == Path("/tmp/x.sqlite3")  # noqa: S108 - a path being parsed, no file


def test_sqlite_waits_for_other_writers_and_lets_readers_carry_on():
    for url in (None, "sqlite:///data/x.sqlite3"):
        options = parse_database_url(url, base_dir=Path("/srv/app"))["OPTIONS"]
        assert options == {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }


def test_postgres_urls_give_every_connection_detail():
    config = parse_database_url(
        "postgres://app:s%40cret@db.internal:5433/appraisals?sslmode=require", base_dir=Path(".")
    )
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["NAME"], config["USER"], config["PASSWORD"]) == ("appraisals", "app", "s@cret")
    assert (config["HOST"], config["PORT"]) == ("db.internal", "5433")
    assert config["OPTIONS"] == {
        "sslmode": "require",
        "options": "-c join_collapse_limit=4 -c random_page_cost=1.1 -c lock_timeout=10s",
        "connect_timeout": "10",
    }


def test_postgres_planner_options_in_the_url_come_after_the_app_s_own():
    config = parse_database_url("postgres://app@db/appraisals?options=-c%20join_collapse_limit%3D8", base_dir=Path("."))
    assert (
        config["OPTIONS"]["options"]
        == "-c join_collapse_limit=4 -c random_page_cost=1.1 -c lock_timeout=10s -c join_collapse_limit=8"
    )  # the last one wins


def test_the_suite_s_database_connection_has_the_planner_settings_when_it_is_postgresql(django_db_blocker):
    from django.db import connection

    if connection.vendor == "postgresql":
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute("SHOW join_collapse_limit")
            assert cursor.fetchone()[0] == "4"
            cursor.execute("SHOW random_page_cost")
            assert cursor.fetchone()[0] == "1.1"
    else:  # a PostgreSQL option only: SQLite is given none
        assert "options" not in connection.settings_dict["OPTIONS"]


@pytest.mark.parametrize("url", ["mysql://x@y/z", "postgres://user@host/", "sqlite://"])
def test_unusable_database_urls_fail_loudly(url):
    with pytest.raises(ImproperlyConfigured):
        parse_database_url(url, base_dir=Path("."))


def test_booleans_and_lists():
    assert parse_bool("DEBUG", "yes", default=False) is True
    assert parse_bool("DEBUG", None, default=False) is False
    with pytest.raises(ImproperlyConfigured):
        parse_bool("DEBUG", "maybe", default=False)
    assert parse_list(" a.org, b.org ,", default=[]) == ["a.org", "b.org"]


def test_log_levels_in_any_case_and_nothing_else():
    assert parse_log_level("LOG_LEVEL", " info ", default="WARNING") == "INFO"
    assert parse_log_level("LOG_LEVEL", None, default="WARNING") == "WARNING"
    assert parse_log_level("LOG_LEVEL", "", default="WARNING") == "WARNING"
    for value in ("verbose", "WARN", "20"):
        with pytest.raises(ImproperlyConfigured, match="LOG_LEVEL must be one of"):
            parse_log_level("LOG_LEVEL", value, default="WARNING")


def test_a_laptop_without_secret_key_gets_a_random_one_kept_for_next_time(tmp_path):
    from config.env import local_secret_key

    path = tmp_path / ".secret_key"
    key = local_secret_key(path)
    assert len(key) >= 50 and local_secret_key(path) == key
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert local_secret_key(tmp_path / "other") != key
