"""The demo's stand-in for a reviewer's phone: print the current one-time code of a reviewer enrolled in
var/ (``pressroom reviewer enroll NAME``), one not used yet. For ``make demo`` and trying things out only:
whoever can read the secrets file can compute codes, which is why that file is 0600 and a real reviewer's
code comes from their authenticator app.

    python scripts/demo-code.py 演示编辑
"""

from __future__ import annotations

import sys

from pressroom.delivery import reviewers
from pressroom.delivery.ledger import Ledger
from pressroom.settings import load_settings

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python scripts/demo-code.py 审核人姓名")
    settings = load_settings()
    print(reviewers.current_code(settings, Ledger(settings.ledger_url), sys.argv[1]))
