"""``pressroom correct`` and ``pressroom retract`` (issue 8): registered on the main ``app``."""
