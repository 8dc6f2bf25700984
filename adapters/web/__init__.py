"""The web admin page (Starlette, Jinja2): `workerctl admin` serves it (docs/admin.md)."""

from pyworker.adapters.web.app import close_streams, create_app
from pyworker.adapters.web.config import AdminWebConfig
from pyworker.adapters.web.data import AdminPageData

__all__ = ["AdminPageData", "AdminWebConfig", "close_streams", "create_app"]
