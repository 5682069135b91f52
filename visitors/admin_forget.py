"""The admin's "Forget visitor" form of an account: erase one visitor's raw data (as
`purge_visitor`). Linked from the account's page; routed by `visitors.admin.admin_urls`."""

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse

from accounts.admin_scoping import admin_object_get
from accounts.models import Account
from visitors.purge import visitor_erase


class ForgetVisitorForm(forms.Form):
    vid = forms.CharField(label="External Visitor ID", required=False, max_length=128)
    session = forms.CharField(label="or session", required=False, max_length=128)
    dry_run = forms.BooleanField(label="Only count what would be erased", required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if bool(cleaned.get("vid")) == bool(cleaned.get("session")):
            raise forms.ValidationError("Give either an External Visitor ID or a session.")
        return cleaned


def forget_visitor_view(request: HttpRequest, object_id: str) -> HttpResponse:
    """Erase (or count) one visitor's raw data in an account its staff may change."""
    model_admin, account = admin_object_get(
        request=request, model=Account, object_id=object_id, change=True
    )
    form = ForgetVisitorForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        counts = visitor_erase(
            account=account,
            vid=data["vid"] or None,
            session=data["session"] or None,
            dry_run=data["dry_run"],
        )
        verb = "Would erase" if data["dry_run"] else "Erased"
        messages.success(
            request,
            f"{verb} {counts.describe()} of this visitor. Reports are unchanged.",
        )
        return HttpResponseRedirect(request.path)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "original": account,
        "title": f"Forget a visitor of {account.code}",
        "form": form,
    }
    return TemplateResponse(request, "admin/accounts/account/forget_visitor.html", context)
