"""One router per area of work; ``ROUTERS`` is what the app mounts."""

from counterwatch.api.routes import accounts, appeals, cases, detection, marketplace, notices, review

ROUTERS = [accounts.router, notices.router, review.router, marketplace.router, appeals.router, detection.router,
           cases.router]  # fmt: skip
