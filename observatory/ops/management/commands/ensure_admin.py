import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from observatory import env


class Command(BaseCommand):
    help = (
        "Make sure an admin login exists. The user name comes from OBSERVATORY_ADMIN_USER (default admin), "
        "the password from OBSERVATORY_ADMIN_PASSWORD, or one is generated once and kept in var/admin-password."
    )

    def handle(self, *args, **options):
        username = env.read_str("OBSERVATORY_ADMIN_USER", "admin")
        given = env.read_secret("OBSERVATORY_ADMIN_PASSWORD", None)
        password_file = settings.VAR_DIR / "admin-password"
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is not None and given is None:
            where = f" (password in {password_file})" if password_file.exists() else ""
            self.stdout.write(f"admin login: {username}{where}")
            return
        password = given or secrets.token_urlsafe(12)
        if user is None:
            user = User(username=username, is_staff=True, is_superuser=True)
        user.set_password(password)
        user.save()
        if given is None:
            password_file.parent.mkdir(parents=True, exist_ok=True)
            password_file.touch(mode=0o600)
            password_file.write_text(password + "\n")
        self.stdout.write(f"admin login: {username} / {password}")
