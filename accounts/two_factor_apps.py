"""django-otp's two apps (TOTP devices, backup codes) under names the admin's sidebar can
show; in a module of their own, as accounts/apps.py must hold only the accounts' config."""

from django_otp.plugins.otp_static.apps import DefaultConfig as OtpStaticConfig
from django_otp.plugins.otp_totp.apps import DefaultConfig as OtpTotpConfig


class TwoFactorAppsConfig(OtpTotpConfig):
    """django-otp's authenticator devices, under a name the admin's sidebar can show."""

    verbose_name = "Two-factor: authenticator apps"


class TwoFactorBackupCodesConfig(OtpStaticConfig):
    """django-otp's single-use backup codes, under a name the admin's sidebar can show."""

    verbose_name = "Two-factor: backup codes"
