"""Enforce: notices, review, takedowns, the penalty policy, appeals, statements of reasons."""
