"""Crash points: named places in the delivery path where a test can make the publishing process die.

``crashpoint("wechat.after_draft_add")`` does nothing — unless the environment variable
``PRESSROOM_CRASH_AT`` names exactly that step, in which case the process kills itself with SIGKILL on
the spot: no ``finally``, no ledger write, no reply, as when a worker machine loses power. Only the
kill-point tests (tests/test_killpoints.py) set the variable, in a subprocess they start; nothing in
pressroom ever sets it, and production never has it.

The steps (where each call sits):

- ``wechat.after_uploadimg``, ``wechat.after_add_material``, ``wechat.after_draft_add``: the platform
  accepted the upload / the draft, its id is not yet saved in the ledger;
- ``wechat.after_submit``: ``freepublish/submit`` accepted, the ``publish_id`` not yet saved;
- ``wechat.while_polling``: after a ``freepublish/get`` answered "still publishing";
- ``weibo.after_share``: the post was accepted, its id not yet recorded;
- ``smtp.after_accept``: a desk's server answered 250, the desk not yet recorded as sent;
- ``cms.after_put``: the CMS answered the PUT;
- ``outbox.after_files``: every file is written, the receipt is not;
- ``engine.before_record``: the transport returned its receipt, the ledger does not know yet.
"""

from __future__ import annotations

import os
import signal

ENV = "PRESSROOM_CRASH_AT"


def crashpoint(step: str) -> None:
    """Die here (SIGKILL) if ``PRESSROOM_CRASH_AT`` names this step; otherwise do nothing."""
    if os.environ.get(ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)
