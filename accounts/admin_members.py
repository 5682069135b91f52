"""The account's "Add a member" page (owners, SPEC §6b): a staff user by user name, with a
role; a new user is created without a password, and the page shows once a link where they
set one (valid PASSWORD_RESET_TIMEOUT, three days by default; no e-mail is sent: the owner
passes it on). Routed by `accounts.admin.AccountAdmin.get_urls`."""

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.admin_scoping import admin_object_get
from accounts.models import Account, Membership
from accounts.roles import NEW_MEMBER_ROLE, Role
from accounts.services import member_invite


class AddMemberForm(forms.Form):
    username = forms.CharField(
        max_length=150,
        validators=[UnicodeUsernameValidator()],
        help_text="Their user name: an existing staff user is added; a new one is created.",
    )
    email = forms.EmailField(required=False, help_text="For a new user (optional).")
    role = forms.ChoiceField(choices=Role.choices, initial=NEW_MEMBER_ROLE)

    def __init__(self, *args: object, account: Account, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.account = account

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        if Membership.objects.filter(account=self.account, user__username=username).exists():
            raise forms.ValidationError(f"{username} is a member of {self.account.code} already.")
        user = get_user_model().objects.filter(username=username).first()
        if user is not None and not user.is_active:
            raise forms.ValidationError(f"{username} is deactivated: a superuser reactivates it.")
        return username


def _duration(seconds: int) -> str:
    days, hours = divmod(round(seconds / 3600), 24)
    return f"{days} days" if days and not hours else f"{days * 24 + hours} hours"


def add_member_view(request: HttpRequest, object_id: str) -> HttpResponse:
    model_admin, account = admin_object_get(
        request=request, model=Account, object_id=object_id, change=True
    )
    form = AddMemberForm(request.POST if request.method == "POST" else None, account=account)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "original": account,
        "title": f"Add a member to {account.code}",
        "form": form,
    }
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        membership, created = member_invite(
            account=account, username=data["username"], email=data["email"], role=data["role"]
        )
        change = reverse("admin:accounts_account_change", args=[account.pk])
        if not created:
            return HttpResponseRedirect(change)
        user = membership.user
        link = request.build_absolute_uri(
            reverse(
                "password-set",
                kwargs={
                    "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                    "token": default_token_generator.make_token(user),
                },
            )
        )
        response = TemplateResponse(
            request,
            "admin/accounts/account/member_added.html",
            {
                **context,
                "member": membership,
                "link": link,
                "change_url": change,
                "valid_for": _duration(settings.PASSWORD_RESET_TIMEOUT),
            },
        )
        response["Cache-Control"] = "no-store"
        return response
    return TemplateResponse(request, "admin/accounts/account/add_member.html", context)
