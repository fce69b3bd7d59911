"""config.py: settings from arguments and environment, and errors that name the option."""

from __future__ import annotations

import pytest

from reference_impl.config import ConfigError, parse_config


def test_defaults_and_the_key_from_the_environment() -> None:
    config = parse_config(["serve"], {"TINES_API_KEY": "from-env"})
    assert (config.host, config.port, config.exit_timeout, config.max_concurrent_runs) == (
        "127.0.0.1",
        0,
        30.0,
        8,
    )
    assert config.db == "./data/reference.sqlite3"
    assert config.max_body_bytes == 1024 * 1024
    assert config.api_key == "from-env"
    assert parse_config(["serve", "--api-key", "flag"], {"TINES_API_KEY": "env"}).api_key == "flag"
    assert parse_config(["serve"], {}).api_key is None


def test_connection_limits_default_and_shutdown_follows_the_exit_timeout() -> None:
    config = parse_config(["serve", "--exit-timeout", "2.5"], {})
    assert (config.header_timeout, config.body_timeout, config.keep_alive_timeout) == (10, 10, 5)
    assert config.max_header_bytes == 16 * 1024
    assert config.shutdown_grace == 8  # the exit timeout, rounded up, + 5: a run can answer
    given = parse_config(["serve", "--graceful-shutdown-timeout", "2"], {})
    assert given.shutdown_grace == 2


def test_the_key_never_shows_in_the_repr() -> None:
    config = parse_config(["serve", "--api-key", "s3cr3t-value"], {})
    assert "s3cr3t-value" not in repr(config)


def test_public_url_loses_its_trailing_slash() -> None:
    config = parse_config(["serve", "--public-url", "https://tenant.example/"], {})
    assert config.public_url == "https://tenant.example"


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--port", "70000"], "--port"),
        (["--exit-timeout", "0"], "--exit-timeout"),
        (["--exit-timeout", "nan"], "--exit-timeout"),
        (["--max-concurrent-runs", "0"], "--max-concurrent-runs"),
        (["--max-body-bytes", "0"], "--max-body-bytes"),
        (["--public-url", "tenant.example"], "--public-url"),
        (["--header-timeout", "0"], "--header-timeout"),
        (["--header-timeout", "inf"], "--header-timeout"),
        (["--body-timeout", "-1"], "--body-timeout"),
        (["--keep-alive-timeout", "0"], "--keep-alive-timeout"),
        (["--max-header-bytes", "100"], "--max-header-bytes"),
        (["--graceful-shutdown-timeout", "0"], "--graceful-shutdown-timeout"),
    ],
)
def test_out_of_range_settings_name_the_option(args: list[str], option: str) -> None:
    with pytest.raises(ConfigError, match=f"^{option}:"):
        parse_config(["serve", *args], {})
