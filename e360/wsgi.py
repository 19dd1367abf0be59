import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "e360.settings")
application = get_wsgi_application()

# Django, the apps and their modules are loaded now and live as long as the process: move them
# out of the collector's sight, so a collection during a request walks only what requests made.
gc.freeze()
