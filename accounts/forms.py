from __future__ import annotations

from django import forms

from accounts.models import Profile, time_zone_names


class ProfileForm(forms.ModelForm[Profile]):
    time_zone = forms.ChoiceField(choices=[])

    class Meta:
        model = Profile
        fields = ["display_name", "time_zone"]
        help_texts = {"display_name": "The name other participants see in meetings."}

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["time_zone"].choices = [(name, name.replace("_", " ")) for name in time_zone_names()]  # type: ignore[attr-defined]


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. 'LMS integration'.")
