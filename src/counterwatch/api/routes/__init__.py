"""One router per area of work; ``ROUTERS`` is what the app mounts."""

from counterwatch.api.routes import accounts, appeals, detection, marketplace, notices, review

ROUTERS = [accounts.router, notices.router, review.router, marketplace.router, appeals.router, detection.router]
from counterwatch.api.routes import cases as _cases; ROUTERS.append(_cases.router)
