"""A small OpenID Connect provider the tests start on 127.0.0.1 (tests/sso_provider.py), so that single
sign-on is tested against a real one: django-oidc-provider's authorization-code flow, signed ID tokens,
discovery, JWKS and userinfo, behind a plain login page.

It is a Django project of its own (settings, URLs, a database file per start), run in its own process by
`python -m tests.oidc_provider.serve`; nothing of the app is imported. The tests change its people through
a control endpoint (control.py) guarded by a secret given at start.
"""
