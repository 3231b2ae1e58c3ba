"""Accounts: profiles (display name, time zone) and API tokens for integrators.

Sign-up, log-in, email verification and password reset come from django-allauth.
"""
