import gc
import os

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from e360.machines import wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "e360.settings")
application = wsgi_application()
try:
    settings.SECRET_KEY  # noqa: B018 -- Django refuses an empty key: e360's is empty when DEBUG is off and none is set
except ImproperlyConfigured as exc:  # the web server does not start without one
    raise ImproperlyConfigured("The SECRET_KEY environment variable is required.") from exc

# Django, the apps and their modules are loaded now and live as long as the process: move them
# out of the collector's sight, so a collection during a request walks only what requests made.
gc.freeze()
