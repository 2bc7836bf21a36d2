"""Errors editors read: each names the file, the field, what is wrong and what to do, in Chinese."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    file: str
    field: str
    message: str  # what is wrong (Chinese)
    fix: str  # what to do (Chinese)

    def __str__(self) -> str:
        where = f"{self.file}" + (f"，字段“{self.field}”" if self.field else "")
        return f"{where}：{self.message}。{self.fix}"


class ValidationFailed(Exception):
    """A release (or the registry) is not fit to publish; every problem is listed at once."""

    def __init__(self, problems: list[Problem], draft: object = None):
        self.problems = list(problems)
        # The release as far as it could be read despite its problems (or None): validation still puts it
        # through the copy gate and every channel, so that every problem is reported in one round.
        self.draft = draft
        super().__init__("\n".join(str(p) for p in self.problems))


class RenditionError(Exception):
    """A channel cannot render the release within its outlet's limits (raised at render time)."""

    def __init__(self, channel: str, field: str, message: str, fix: str):
        self.channel, self.field, self.message, self.fix = channel, field, message, fix
        super().__init__(f"[{channel}] 字段“{field}”：{message}。{fix}")
