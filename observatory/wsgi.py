import os

from django.core.wsgi import get_wsgi_application

from observatory import selftrace

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "observatory.settings")
selftrace.configure("web")  # before the app loads, so the Django middleware is in place
application = get_wsgi_application()
