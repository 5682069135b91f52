"""The admin's two-factor page (accounts.two_factor): enroll an authenticator (a QR code
and the key to type, confirmed by a first code), or enter the current code after signing
in. Routed by `accounts.admin.admin_urls`."""

import base64
import re
from typing import Any

import segno
from django import forms
from django.contrib import admin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.http import url_has_allowed_host_and_scheme
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.two_factor import session_verified, two_factor_required

DEVICE_NAME = "authenticator"


BACKUP_CODES = 10
BACKUP_RE = re.compile(r"^[a-z2-7]{8}$")  # django-otp's static tokens


class CodeForm(forms.Form):
    code = forms.RegexField(
        regex=r"^\s*(\d{6}|[A-Za-z2-7]{8})\s*$",
        label="Code",
        error_messages={
            "invalid": "The 6 digits your authenticator shows, or one of your backup codes."
        },
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "size": 10}),
    )


def _backup_codes_new(user: Any) -> list[str]:
    """Ten single-use backup codes for a lost authenticator (any earlier ones void)."""
    StaticDevice.objects.filter(user_id=user.pk).delete()
    device = StaticDevice.objects.create(user=user, name="backup codes", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=c) for c in codes)
    return codes


def two_factor_view(request: HttpRequest) -> HttpResponse:
    """Enroll, or enter a code; then on to `next` (a page of this site)."""
    user = request.user
    target = request.GET.get("next") or "/admin/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/admin/"
    device = TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).first()
    enrolling = device is None
    if device is None:  # one device being enrolled, kept across reloads
        device = TOTPDevice.objects.filter(user_id=user.pk, confirmed=False).first()
        device = device or TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    form = CodeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        code = form.cleaned_data["code"].strip()
        if not enrolling and BACKUP_RE.match(code.lower()):  # a backup code, once
            device = StaticDevice.objects.filter(user_id=user.pk).first() or device
            code = code.lower()
        allowed, _ = device.verify_is_allowed()  # wrong codes slow the next tries down
        if not allowed:
            form.add_error("code", "Too many wrong codes: wait a few seconds, then enter the "
                           "one shown now.")  # fmt: skip
        elif device.verify_token(code):
            otp_login(request, device)
            if enrolling:
                device.confirmed = True
                device.save(update_fields=["confirmed"])
                response = TemplateResponse(
                    request,
                    "admin/accounts/backup_codes.html",
                    {
                        **admin.site.each_context(request),
                        "title": "Your backup codes",
                        "codes": _backup_codes_new(user),
                        "next": target,
                    },
                )
                response["Cache-Control"] = "no-store"
                return response
            return HttpResponseRedirect(target)
        else:
            form.add_error("code", "That code is not right, or too old: enter the one shown now.")
    context: dict[str, Any] = {
        **admin.site.each_context(request),
        "title": "Set up two-factor sign-in" if enrolling else "Two-factor sign-in",
        "form": form,
        "enrolling": enrolling,
        "required": two_factor_required(user),
        "verified": session_verified(user),
    }
    if enrolling:
        context["qr"] = segno.make(device.config_url, error="m").svg_inline(scale=4)
        context["key"] = base64.b32encode(device.bin_key).decode()
    return TemplateResponse(request, "admin/accounts/two_factor.html", context)
