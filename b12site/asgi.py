import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "b12site.settings")
# A hung query must not hang a worker: the site's queries stop after 5 s unless the environment says otherwise.
os.environ.setdefault("DJANGO_DB_STATEMENT_TIMEOUT", "5")
application = get_asgi_application()
