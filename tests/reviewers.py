"""Reviewers for tests: enrol registered reviewers (content/reviewers.yaml) into the workspace's var/, and the
code each one's phone would show now (an unused one, so one reviewer can act more than once a minute)."""

from __future__ import annotations


def _ctx():
    from pressroom.delivery.ledger import Ledger
    from pressroom.settings import load_settings

    settings = load_settings()
    return settings, Ledger(settings.ledger_url)


def enroll(*names: str) -> None:
    from pressroom.delivery import reviewers

    settings, ledger = _ctx()
    for name in names:
        reviewers.enroll(settings, ledger, name, again=True)


def code(name: str) -> str:
    from pressroom.delivery import reviewers

    settings, ledger = _ctx()
    if name not in reviewers.enrolled(settings):
        reviewers.enroll(settings, ledger, name)
    return reviewers.current_code(settings, ledger, name)


def person(name: str) -> dict:
    """The keyword arguments of a flow that an action by ``name`` needs."""
    return {"reviewer": name, "code": code(name)}


def secrets() -> dict[str, str]:
    from pressroom.delivery import reviewers

    settings, _ = _ctx()
    return reviewers._read_secrets(settings)
