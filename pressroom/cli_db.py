"""``pressroom db …`` (issue 9): registered on the main ``app``."""
