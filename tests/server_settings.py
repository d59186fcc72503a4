"""Settings for app servers that tests start as subprocesses (gunicorn): production settings (DEBUG off, so the
error handlers answer), with static files served from the source folders and fast password hashing."""

from b12site.settings import *  # noqa: F403
from b12site.settings import STORAGES

STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
WHITENOISE_USE_FINDERS = True
SECURE_SSL_REDIRECT = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
