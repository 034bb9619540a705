"""Start the test provider: `python -m tests.oidc_provider.serve --port P --db PATH --client-id ID
--client-secret SECRET --redirect-uri URI [--redirect-uri URI ...] --control-secret SECRET
[--hosted-domain example.org]`.

It listens on 127.0.0.1 (port 0: any free port), brings its database up to date, makes sure it has a
signing key (RS256) and the one client (confidential, authorization code, no consent screen), then prints
`ready http://127.0.0.1:<port>` and serves until it is stopped, each request on a thread of its own.
"""

import argparse
import os
import sys


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.oidc_provider.serve", description=__doc__)
    parser.add_argument("--port", type=int, required=True, help="port on 127.0.0.1; 0 for any free one")
    parser.add_argument("--db", required=True, help="the SQLite database file (created if need be)")
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--redirect-uri", action="append", required=True, help="repeat for each one allowed")
    parser.add_argument("--control-secret", required=True, help="the bearer secret of the control endpoint")
    parser.add_argument("--hosted-domain", default="", help="Google's `hd` claim for people at this domain")
    return parser.parse_args(argv)


def set_up(args: argparse.Namespace) -> None:
    """The database's tables, a signing key and the client."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from django.core.management import call_command
    from oidc_provider.models import Client, ResponseType, RSAKey

    call_command("migrate", verbosity=0, interactive=False)
    if not RSAKey.objects.exists():
        # As the library's `creatersakey` command does, without its printing.
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        RSAKey.objects.create(key=pem.decode())
    client, _ = Client.objects.get_or_create(client_id=args.client_id)
    client.name = "Competency appraisals"
    client.client_type = "confidential"
    client.client_secret = args.client_secret
    client.redirect_uris = args.redirect_uri
    client.jwt_alg = "RS256"
    # A confidential client that does not require consent goes straight back to the redirect URI after login.
    client.require_consent = False
    client.save()
    client.response_types.set([ResponseType.objects.get(value="code")])


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    # Listening first, so that the port (perhaps chosen by the system) is known to the settings; requests
    # that come before the server is ready wait in the socket's backlog.
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler

    server = ThreadedWSGIServer(("127.0.0.1", args.port), WSGIRequestHandler)
    url = f"http://127.0.0.1:{server.server_port}"
    os.environ.update(
        DJANGO_SETTINGS_MODULE="tests.oidc_provider.settings",
        SSO_PROVIDER_URL=url,
        SSO_PROVIDER_DB=args.db,
        SSO_PROVIDER_CONTROL_SECRET=args.control_secret,
        SSO_PROVIDER_HOSTED_DOMAIN=args.hosted_domain,
    )

    import django
    from django.core.wsgi import get_wsgi_application

    django.setup()
    set_up(args)
    server.set_app(get_wsgi_application())
    print(f"ready {url}", flush=True)
    # That was the one line for stdout: whoever started the provider may stop reading it now. Anything else
    # goes to stderr.
    sys.stdout = sys.stderr
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
