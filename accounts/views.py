from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts import access, actions
from accounts.forms import ApiTokenForm, ProfileForm
from accounts.models import ApiToken


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    instance = access.profile_of(request.user)  # type: ignore[arg-type]
    form = ProfileForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Profile saved.")
        return redirect("profile")
    return render(request, "accounts/profile.html", {"form": form}, status=400 if form.errors else 200)


@login_required
def api_tokens(request: HttpRequest) -> HttpResponse:
    form = ApiTokenForm(request.POST or None)
    new_secret = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            _, new_secret = actions.do_create_api_token(request.user, form.cleaned_data["name"])  # type: ignore[arg-type]
            form = ApiTokenForm()
        else:
            status = 400
    tokens = ApiToken.objects.filter(user=request.user)  # type: ignore[misc]
    context = {"form": form, "tokens": tokens, "new_secret": new_secret}
    return render(request, "accounts/api_tokens.html", context, status=status)


@login_required
@require_POST
def revoke_api_token(request: HttpRequest, token_id: int) -> HttpResponse:
    api_token = access.access_api_token_by_id(request.user, token_id)  # type: ignore[arg-type]
    actions.do_revoke_api_token(api_token)
    messages.success(request, f"Token “{api_token.name}” revoked.")
    return redirect("api_tokens")
